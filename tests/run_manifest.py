"""What a finished `codemill run` left in its lake, as a small comparable record: row counts
of every table the stages write, rejections by stage and reason, and content hashes of the
gold tables (gold/files by file_id and content hash, the training documents' text, the token
sequences). tests/test_report_render.py compares a fresh run of the sample corpus with the
record in tests/data/sample_run_manifest.json, so a refactoring that changes what the
pipeline produces fails a test. Read with delta-rs: no Spark needed.

    .venv/bin/python tests/run_manifest.py LAKE > tests/data/sample_run_manifest.json
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from jobs.core.storage import Location

TABLES = ("bronze/files", "bronze/quarantine", "silver/selected", "silver/filtered", "silver/deduped",
          "silver/dup_clusters", "silver/minhash_signatures", "silver/redacted", "silver/pii_findings",
          "gold/files", "gold/training_docs", "gold/tokens", "silver/rejections")


def _rows(lake, name: str, columns: list[str]) -> list[dict]:
    from jobs.core.delta_read import query
    return query(str(lake / name), "SELECT " + ", ".join(f'"{c}"' for c in columns) + " FROM t").to_pylist()


def _digest(lines) -> str:
    h = hashlib.sha256()
    for line in sorted(lines):
        h.update(line.encode() + b"\n")
    return h.hexdigest()


def run_manifest(lake: "str | Path | Location") -> dict:
    from jobs.core.delta_read import query
    lake = Location(lake)  # a local folder or a URI (tests/test_object_store.py)
    counts = {name: query(str(lake / name), "SELECT count(*) AS n FROM t").column("n")[0].as_py()
              if (lake / name).exists() else None
              for name in TABLES}
    rejections: dict[str, int] = {}
    for r in _rows(lake, "silver/rejections", ["stage", "reason"]):
        key = f"{r['stage']}:{r['reason']}"
        rejections[key] = rejections.get(key, 0) + 1
    return {
        "rows": counts,
        "rejections": dict(sorted(rejections.items())),
        "gold_files": _digest(f"{r['file_id']}\t{r['content_sha256']}"
                              for r in _rows(lake, "gold/files", ["file_id", "content_sha256"])),
        "gold_training_docs": _digest(f"{r['doc_id']}\t{hashlib.sha256(r['text'].encode()).hexdigest()}"
                                      for r in _rows(lake, "gold/training_docs", ["doc_id", "text"])),
        "gold_tokens": _digest(f"{r['seq_id']}\t{','.join(map(str, r['input_ids']))}"
                               for r in _rows(lake, "gold/tokens", ["seq_id", "input_ids"])),
    }


if __name__ == "__main__":
    print(json.dumps(run_manifest(sys.argv[1]), indent=1))
