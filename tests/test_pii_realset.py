"""The real-file PII evaluation set (benchmarks/pii_evalset.py, issue 20) and its scoring
(jobs/tools/pii_eval.py). Fast tests use the committed sample and a tiny folder of files written
here; the slow tests generate the held-out split from the real `holdout4` corpus and check
the issue's targets on it, and the dev, dev2 and dev3 splits (the three former held-out splits)
from `holdout`, `holdout2` and `holdout3`. No Spark."""
from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import pii_evalset as E  # noqa: E402

from jobs.tools.pii_eval import detect_secrets_line_predictions, format_real, score_real  # noqa: E402
from udfs import pii  # noqa: E402

SAMPLE = ROOT / "tests" / "data" / "pii_real_sample.jsonl"
# The targets on the held-out part
SECRET_RECALL, OTHER_RECALL, LOOKALIKES_KEPT = 0.97, 0.99, 0.98


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


# ---- a tiny source folder: real-looking files written here, one per family ------------------
FILES = {
    "pkg-a-1.0/src/util.py": "import os\n\n\ndef main():\n    path = os.getcwd()\n    return path\n\n"
                             "class Loader:\n    def load(self, name):\n        return name.upper()\n",
    "pkg-a-1.0/web/app.js": "const path = require('path');\n\nfunction join(a, b) {\n  return path.join(a, b);\n}\n"
                            "module.exports = { join };\n",
    "pkg-a-1.0/docs/index.rst": "Usage\n=====\n\nCall ``join`` with two parts.\n\nIt returns the joined path.\n",
    "pkg-a-1.0/README.md": "# pkg-a\n\nA small helper.\n\n## Install\n\nRun the installer.\n",
    "pkg-a-1.0/setup.cfg": "[metadata]\nname = pkg-a\n\n[options]\npackages = find:\nzip_safe = false\n",
    # a real-looking secret in the source: screening must drop that line
    "pkg-a-1.0/conf/settings.py": "DEBUG = False\nTIMEOUT = 30\nAPI_KEY = 'Zr3LmW0xTn5VbK2sYd7HcJ4pGf9AeUq8'\n"
                                  "RETRIES = 3\nNAME = 'loader'\n",
    "pkg-a-1.0/src/lib.rs": "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n\n#[test]\nfn adds() {\n"
                            "    assert_eq!(add(1, 2), 3);\n}\n",
    "pkg-a-1.0/run.sh": "#!/bin/sh\nset -e\ncd \"$(dirname \"$0\")\"\nexec python -m pkg_a \"$@\"\n",
}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("pii-real-source")
    for rel, text in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.fixture(scope="module")
def built(source):
    return {split: E.build_split(split, source, 40, seed=5) for split in E.SPLITS}


def test_generation_is_deterministic(source, built):
    again = E.build_split("holdout", source, 40, seed=5)
    assert again == built["holdout"]
    other = E.build_split("holdout", source, 40, seed=6)
    assert other[0] != built["holdout"][0]


def test_spans_point_at_planted_values(built):
    for split, (records, _) in built.items():
        assert records
        for rec in records:
            text = rec["content"]
            for s in rec["spans"]:
                v = text[s["start"]:s["end"]]
                assert s["type"] == E.KIND_TYPE[s["kind"]] and v.strip() == v and v
                if s["kind"] == "email":
                    assert "@" in v
                elif s["kind"] == "ip":
                    ipaddress.ip_address(v)
                elif s["kind"] == "private_key":
                    assert "BEGIN" in v and "END" in v
                assert s["template"].startswith(split + ":")
            for la in rec["lookalikes"]:
                assert la["kind"] in E.LOOKALIKE_KINDS and la["end"] > la["start"]


def test_screening_drops_real_secrets(built):
    real_secret = "Zr3LmW0xTn5VbK2sYd7HcJ4pGf9AeUq8"
    for records, stats in built.values():
        assert not any(real_secret in r["content"] for r in records)
        assert sum(stats["screened_broad"].values()) + sum(stats["screened_codemill"].values()) >= 1


def test_splits_share_no_template_or_pool():
    import itertools
    for a, b in itertools.combinations(E.SPLITS, 2):
        for key, templates in E.TEMPLATES[b].items():
            if key != "notebook":  # notebooks reuse their split's Python templates
                assert not set(templates) & set(E.TEMPLATES[a].get(key, [])), (a, b, key)
        for attr in ("first", "last", "domains", "words", "key_names", "token_names", "pass_names", "orgs"):
            assert not set(getattr(E.POOLS[a], attr)) & set(getattr(E.POOLS[b], attr)), (a, b, attr)
        if (a, b) != ("tune", "dev"):  # value shapes too (tune and dev share the plain JWT and placeholders)
            for attr in ("token_vendors", "password_styles", "placeholder_emails", "pkg_specs"):
                assert not set(getattr(E.POOLS[a], attr)) & set(getattr(E.POOLS[b], attr)), (a, b, attr)
            assert not set(E.API_KEY_STYLES[a]) & set(E.API_KEY_STYLES[b]), (a, b)
            assert not set(E.PLACEHOLDER_SECRETS[a]) & set(E.PLACEHOLDER_SECRETS[b]), (a, b)


def test_splits_come_from_disjoint_package_lists():
    import real_corpus as rc
    key = lambda pkg: (pkg.ecosystem, pkg.name)  # noqa: E731
    lists = {split: {key(p) for p in rc.CORPORA[corpus]} for split, corpus in E.SPLIT_CORPUS.items()}
    tuned = lists["tune"] | lists["dev"] | lists["dev2"] | lists["dev3"] | {key(p) for p in rc.CORPORA["large"]}
    assert not tuned & lists["holdout"]
    assert not (lists["tune"] | {key(p) for p in rc.CORPORA["large"]}) & (lists["dev"] | lists["dev2"] | lists["dev3"])
    assert not lists["dev"] & lists["dev2"] and not lists["dev"] & lists["dev3"] and not lists["dev2"] & lists["dev3"]


# ---- the committed sample ---------------------------------------------------------------------
def test_sample_is_small_and_covers_every_family():
    records = load(SAMPLE)
    assert SAMPLE.stat().st_size < 500_000  # 52 records of each of the five splits
    assert {r["split"] for r in records} == set(E.SPLITS)
    assert len({r["family"] for r in records}) >= 12
    kinds = {s["kind"] for r in records for s in r["spans"]}
    assert set(E.SECRET_KINDS) <= kinds and {"email", "ip", "name"} <= kinds


def test_sample_has_no_pii_but_the_planted(tmp_path):
    """Screening held: every finding of the rules and of detect-secrets is on a planted value
    or on a look-alike's line, never on the real text around them."""
    records = load(SAMPLE)
    for rec in records:
        marks = rec["spans"] + rec["lookalikes"]
        for s in pii.detect_rules(rec["content"], rec["path"]):
            assert any(s.start < m["end"] and m["start"] < s.end for m in marks), (rec["id"], s.type, s.detector)
    for rec, preds in zip(records, detect_secrets_line_predictions(records)):
        marks = rec["spans"] + rec["lookalikes"]
        for s in preds:
            assert any(s.start < m["end"] and m["start"] < s.end for m in marks), rec["id"]


# Regression floors on the sample (52 records a split, a few values of each type): the tuning,
# dev, dev2 and dev3 parts are what the rules were tuned on; the held-out part's floors guard
# against losing ground, not the targets (those are read on the full split, docs/pii.md).
SAMPLE_FLOORS = {"tune": (0.95, 0.95), "dev": (0.9, 0.95), "dev2": (0.9, 0.95), "dev3": (0.9, 0.95),
                 "holdout": (0.6, 0.9)}


def test_rules_on_the_sample():
    records = load(SAMPLE)
    for split, (recall_floor, kept_floor) in SAMPLE_FLOORS.items():
        recs = [r for r in records if r["split"] == split]
        sc = score_real("rules", recs, [pii.detect_rules(r["content"], r["path"]) for r in recs])
        for kind, c in sc.kinds.items():
            assert c.recall >= recall_floor, (split, kind, c)
        kept = sum(k for _, k in sc.lookalikes.values()) / sum(t for t, _ in sc.lookalikes.values())
        assert kept >= kept_floor, (split, kept)


def test_redacting_what_the_rules_find_leaves_nothing_for_them_to_find():
    """The pii gate's rescan (quality_checks/scans.py) in miniature, on the real files of the
    committed sample: whatever the rules find, once redacted, they do not find again."""
    again = []
    for rec in load(SAMPLE):
        spans = pii.detect_rules(rec["content"], rec["path"])
        if pii.detect_rules(pii.redact(rec["content"], spans), rec["path"]):
            again.append(rec["id"])
    assert not again, again


def test_report_names_no_value(capsys):
    from jobs.cli import main
    assert main(["eval-pii", str(SAMPLE), "--no-baseline"]) == 0
    out = capsys.readouterr().out
    assert "recall by type" in out and "by family" in out and "look-alikes kept" in out
    records = load(SAMPLE)
    values = {r["content"][m["start"]:m["end"]] for r in records for m in r["spans"] + r["lookalikes"]}
    leaked = [v for v in values if len(v) >= 6 and v in out]
    assert not leaked, len(leaked)


def test_format_real_counts_only():
    records = load(SAMPLE)[:20]
    sc = score_real("rules", records, [pii.detect_rules(r["content"], r["path"]) for r in records])
    text = format_real([sc], records, "title")
    assert "title" in text and not any(r["content"][s["start"]:s["end"]] in text for r in records for s in r["spans"])


# ---- the held-out and dev splits from the real corpora -------------------------------------------
def _rules_scores(split: str):
    try:
        source = E.corpus_source(split)
    except Exception as err:  # no registry reachable: nothing to measure on
        pytest.skip(f"{E.SPLIT_CORPUS[split]} corpus unavailable: {type(err).__name__}")
    records, _ = E.build_split(split, source, 1500)
    assert len({r["family"] for r in records}) == len(E.FAMILIES)
    sc = score_real("rules", records, [pii.detect_rules(r["content"], r["path"]) for r in records])
    kept = sum(k for _, k in sc.lookalikes.values()) / sum(t for t, _ in sc.lookalikes.values())
    return sc, kept


# Measured on the fresh held-out split (docs/pii.md, fifth round: corpus holdout4, after tuning on
# dev3): rules api_key 0.891, aws_secret 0.811, password 0.809, private_key 1.000, token 1.000,
# email 0.912, ip 0.968, name 0.954, look-alikes kept 0.955 (versions 0.858).
HOLDOUT_FLOORS = {"api_key": 0.87, "aws_secret": 0.79, "password": 0.79, "private_key": 0.97, "token": 0.97,
                  "email": 0.89, "ip": 0.95, "name": 0.93}


@pytest.mark.slow
@pytest.mark.xfail(reason="fresh held-out split (holdout4): api_key 0.891, aws_secret 0.811, password 0.809 "
                          "< 0.97, email 0.912 and ip 0.968 < 0.99 and look-alikes kept 0.955 < 0.98 (versions "
                          "0.858) (docs/pii.md); strict, so meeting the targets fails this marker", strict=True)
def test_holdout_targets():
    """The issue's targets for the rules tier on the held-out split (real files of the
    `holdout4` corpus, HOLDOUT_* templates, never tuned on): secrets >= 0.97 per type, emails
    and IPs >= 0.99, look-alikes kept >= 0.98."""
    sc, kept = _rules_scores("holdout")
    for kind in E.SECRET_KINDS:
        assert sc.kinds[kind].recall >= SECRET_RECALL, (kind, sc.kinds[kind])
    for kind in ("email", "ip"):
        assert sc.kinds[kind].recall >= OTHER_RECALL, (kind, sc.kinds[kind])
    assert kept >= LOOKALIKES_KEPT
    assert sum(c.partial for c in sc.kinds.values()) == 0


# What the rules reach today (docs/pii.md), as regression guards. `dev`, `dev2` and `dev3` were
# tuned on (dev and dev2 1.000 on every type; dev3 0.982-1.000, names 1.000), so their floors are
# the targets; the held-out floors sit a little under the measured figures.
FLOORS = {
    "dev": ({k: SECRET_RECALL for k in E.SECRET_KINDS} | {"email": OTHER_RECALL, "ip": OTHER_RECALL, "name": 0.97},
            LOOKALIKES_KEPT),
    "dev2": ({k: SECRET_RECALL for k in E.SECRET_KINDS} | {"email": OTHER_RECALL, "ip": OTHER_RECALL, "name": 0.93},
             LOOKALIKES_KEPT),
    "dev3": ({k: SECRET_RECALL for k in E.SECRET_KINDS} | {"email": OTHER_RECALL, "ip": OTHER_RECALL, "name": 0.97},
             LOOKALIKES_KEPT),
    "holdout": (HOLDOUT_FLOORS, 0.93),
}


@pytest.mark.slow
@pytest.mark.parametrize("split", sorted(FLOORS))
def test_split_floors(split):
    sc, kept = _rules_scores(split)
    floors, kept_floor = FLOORS[split]
    for kind, floor in floors.items():
        assert sc.kinds[kind].recall >= floor, (split, kind, sc.kinds[kind])
    assert kept >= kept_floor, (split, kept)
