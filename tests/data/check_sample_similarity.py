"""Check the sample corpus against its manifest: similarity and filter-rule expectations.

Run from the repository root:

    .venv/bin/python tests/data/check_sample_similarity.py [--metrics]

1. Exact word-5-gram Jaccard (tokens split on [^A-Za-z_0-9], as the near-dedup stage
   does, docs/recipe.md §4.3) over every pair of files that reach the dedup stage (files the
   manifest quarantines or rejects at select/filter are left out). Pairs listed as
   exact/near duplicates are compared with the manifest; any other pair at or above
   --max-other (default 0.5) is an accidental duplicate and fails the check.
2. A stand-alone re-statement of the filter rules of docs/recipe.md §3 (thresholds from the
   brief), evaluated in the filter stage's order, to confirm that each planted filter
   file trips exactly the rule named in the manifest and every other file trips none.
   This is a check of the corpus, not the filter stage itself.

Exit status 0 when everything matches, 1 otherwise.
"""
from __future__ import annotations

import argparse
import itertools
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "sample_corpus"
MANIFEST = HERE / "sample_manifest.yaml"
METADATA_FILE = ".codemill-repo.json"

TOKEN_SPLIT = re.compile(r"[^A-Za-z_0-9]")
NGRAM = 5


# ---- corpus access -------------------------------------------------------------------

def corpus_files(corpus: Path = CORPUS) -> dict[tuple[str, str], bytes]:
    """(repo_name, path) -> raw bytes for every input file (metadata files excluded)."""
    files = {}
    for p in sorted(corpus.rglob("*")):
        if not p.is_file() or p.name == METADATA_FILE:
            continue
        rel = p.relative_to(corpus).parts
        repo = rel[0].replace("__", "/", 1)
        files[(repo, "/".join(rel[1:]))] = p.read_bytes()
    return files


def load_manifest(path: Path = MANIFEST) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ---- similarity ----------------------------------------------------------------------

def tokens(text: str) -> list[str]:
    return [t for t in TOKEN_SPLIT.split(text) if t]


def shingles(text: str, n: int = NGRAM) -> set[str]:
    toks = tokens(text)
    return {" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def dedup_inputs(files: dict, manifest: dict) -> dict[tuple[str, str], str]:
    """Text of the files that reach the dedup stage according to the manifest."""
    dropped = {(q["repo_name"], q["path"]) for q in manifest.get("quarantine", [])}
    dropped |= {(r["repo_name"], r["path"]) for r in manifest.get("rejected", [])
                if r["stage"] in ("select", "filter")}
    return {key: raw.decode("utf-8") for key, raw in files.items() if key not in dropped}


def similarity_report(files: dict, manifest: dict, max_other: float, show_from: float = 0.3):
    texts = dedup_inputs(files, manifest)
    sets = {k: shingles(v) for k, v in texts.items()}
    listed = {}
    for group in manifest.get("exact_duplicates", []):
        members = [tuple(f) for f in group["files"]]
        for a, b in itertools.combinations(members, 2):
            listed[frozenset((a, b))] = ("exact", 1.0)
    for group in manifest.get("near_duplicates", []):
        a, b = (tuple(f) for f in group["files"])
        listed[frozenset((a, b))] = ("near", float(group["jaccard_5gram"]))

    problems, lines = [], []
    short = sorted(k for k, s in sets.items() if len(s) < 10)
    keys = sorted(sets)
    pairs = []
    for a, b in itertools.combinations(keys, 2):
        j = jaccard(sets[a], sets[b])
        pairs.append((j, a, b))
    pairs.sort(reverse=True)
    for j, a, b in pairs:
        kind = listed.get(frozenset((a, b)))
        if kind is None and j < show_from:
            continue
        tag = f"listed {kind[0]}" if kind else "NOT LISTED"
        lines.append(f"{j:.3f}  {a[0]}:{a[1]}  <->  {b[0]}:{b[1]}  [{tag}]")
        if kind is None and j >= max_other:
            problems.append(f"accidental similar pair {j:.3f}: {a} {b}")
        if kind and kind[0] == "near" and abs(j - kind[1]) > 0.02:
            problems.append(f"near pair {a} {b}: measured {j:.3f}, manifest says {kind[1]}")
        if kind and kind[0] == "exact" and j != 1.0:
            problems.append(f"exact pair {a} {b}: Jaccard {j:.3f}")
    for key in listed:
        for member in key:
            if member not in sets:
                problems.append(f"listed duplicate {member} does not reach dedup")
    unlisted = [p for p in pairs if frozenset((p[1], p[2])) not in listed]
    highest_other = unlisted[0][0] if unlisted else 0.0
    summary = (f"{len(sets)} files reach dedup, {len(pairs)} pairs; listed pairs: {len(listed)}; "
               f"highest unlisted pair: {highest_other:.3f}; files with < 10 shingles: {len(short)}")
    return summary, lines, problems, short


# ---- filter rules (docs/recipe.md §3, in the filter stage's order) ----------------------------

AUTOGEN_MARKERS = ("auto-generated", "autogenerated", "automatically generated",
                   "generated automatically", "this file is generated", "do not edit")
LONG_LINE_EXEMPT = {"md", "markdown", "mkd", "mkdn", "rst", "sql", "tex", "json", "r", "rmd", "cmake"}
ALPHA_THRESHOLD = {"json": 0.5, "yaml": 0.5, "yml": 0.5}
BASE64_RE = re.compile(r"[A-Za-z0-9+/]{64,}={0,2}")
HEX_RE = re.compile(r"(?:\b(?:0x|\\x)?[0-9a-fA-F]{2}(?:,|\b\s*)){8,}")
UNICODE_RE = re.compile(r"(?:\\u[0-9a-fA-F]{4}){8,}")


def extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def html_visible_ratio(text: str) -> tuple[float, int]:
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    visible = soup.get_text()
    return (len(visible) / len(text) if text else 0.0), len(visible)


def filter_metrics(path: str, text: str) -> dict:
    lines = text.splitlines() or [""]
    n = len(text) or 1
    ext = extension(path)
    matches = [m.group(0) for r in (BASE64_RE, HEX_RE, UNICODE_RE) for m in r.finditer(text)]
    return {
        "ext": ext,
        "chars": len(text),
        "lines": len(lines),
        "max_line": max(len(l) for l in lines),
        "mean_line": sum(len(l) for l in lines) / len(lines),
        "alnum": sum(c.isalnum() for c in text) / n,
        "alpha": sum(c.isalpha() for c in text) / n,
        "encoded_longest": max((len(m) for m in matches), default=0),
        "encoded_cover": sum(len(m) for m in matches) / n,
    }


def first_rule(path: str, text: str) -> str | None:
    """The first filter rule (docs/recipe.md §3 order) that drops the file, or None."""
    m = filter_metrics(path, text)
    ext = m["ext"]
    head = "\n".join(text.splitlines()[:5]).lower()
    if any(marker in head for marker in AUTOGEN_MARKERS):
        return "auto_generated"
    if ext not in ("xsl", "xslt") and "<?xml version=" in text[:100]:
        return "xml_header"
    if ext in ("json", "yaml", "yml") and not 50 <= m["chars"] <= 5000:
        return "json_yaml_size"
    if ext not in LONG_LINE_EXEMPT:
        if m["max_line"] > 1000:
            return "max_line_length"
        if m["mean_line"] > 100:
            return "avg_line_length"
    if m["alnum"] < 0.25:
        return "alphanum_fraction"
    if ext in ALPHA_THRESHOLD and m["alpha"] < ALPHA_THRESHOLD[ext]:
        return "alpha_fraction"
    if ext in ("html", "htm"):
        ratio, visible = html_visible_ratio(text)
        if ratio <= 0.2 or visible <= 100:
            return "html_visible_text"
    if m["encoded_longest"] > 1024 or m["encoded_cover"] > 0.5:
        return "encoded_data"
    if m["lines"] > 100_000:
        return "max_lines"
    return None


def filter_report(files: dict, manifest: dict, show_metrics: bool):
    """Check that filter-stage files trip the named rule and the others trip none."""
    quarantined = {(q["repo_name"], q["path"]) for q in manifest.get("quarantine", [])}
    at_select = {(r["repo_name"], r["path"]) for r in manifest.get("rejected", []) if r["stage"] == "select"}
    expected = {(r["repo_name"], r["path"]): r["reason"] for r in manifest.get("rejected", [])
                if r["stage"] == "filter"}
    problems, lines = [], []
    for key, raw in sorted(files.items()):
        if key in quarantined or key in at_select:
            continue
        text = raw.decode("utf-8")
        got = first_rule(key[1], text)
        want = expected.get(key)
        if got != want:
            problems.append(f"{key[0]}:{key[1]}: filter rule {got!r}, manifest expects {want!r}")
        if show_metrics:
            m = filter_metrics(key[1], text)
            lines.append(f"{key[0]}:{key[1]:<48} max {m['max_line']:>5} mean {m['mean_line']:6.1f} "
                         f"alnum {m['alnum']:.2f} alpha {m['alpha']:.2f} enc {m['encoded_cover']:.2f} "
                         f"-> {got or 'kept'}")
    return lines, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-other", type=float, default=0.5,
                        help="highest Jaccard allowed for a pair not listed as duplicates")
    parser.add_argument("--metrics", action="store_true", help="print per-file filter metrics")
    args = parser.parse_args(argv)

    files = corpus_files()
    manifest = load_manifest()
    summary, lines, problems, short = similarity_report(files, manifest, args.max_other)
    print("== word-5-gram Jaccard (pairs >= 0.3 and all listed pairs)")
    print("\n".join(lines))
    print(summary)
    if short:
        print("files with < 10 shingles:", ", ".join(f"{r}:{p}" for r, p in short))
    flines, fproblems = filter_report(files, manifest, args.metrics)
    if flines:
        print("== filter metrics")
        print("\n".join(flines))
    problems += fproblems
    print("== problems" if problems else "== OK: similarity and filter expectations match the manifest")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
