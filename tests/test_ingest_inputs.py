"""Inputs as users hand them over: one file or a folder, for every format, and the mixed or
ambiguous folders that must be refused with a message saying what to give instead."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from jobs.core.errors import UserError

RECORDS = [{"repo_name": "o/r", "path": f"src/m{i}.py", "content": f"def f{i}():\n    return {i}\n",
            "license": "MIT", "stars": i} for i in range(5)]
WANT = {("o/r", r["path"]) for r in RECORDS}


def _lines(records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _parquet(path: Path, records) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.Table.from_pylist(records), path)


ODD_PATH = "test cases/a b #1 %20.py"  # real repositories have such names (numpy's vendored meson)


def _repo(folder: Path) -> None:
    (folder / "src").mkdir(parents=True)
    (folder / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge, to any person\n")
    for r in RECORDS:
        (folder / r["path"]).write_text(r["content"])
    (folder / "test cases").mkdir()
    (folder / ODD_PATH).write_text("x = 1\n")


def make_input(kind: str, root: Path) -> Path:
    """The five records above in the form `kind`; returns what the user passes as --input."""
    root.mkdir(parents=True)
    if kind == "jsonl file":
        (root / "data.jsonl").write_bytes(_lines(RECORDS))
        return root / "data.jsonl"
    if kind == "jsonl.gz file":
        (root / "data.jsonl.gz").write_bytes(gzip.compress(_lines(RECORDS)))
        return root / "data.jsonl.gz"
    if kind == "json array file":
        (root / "data.json").write_text(json.dumps(RECORDS, indent=2))
        return root / "data.json"
    if kind == "parquet file":
        _parquet(root / "data.parquet", RECORDS)
        return root / "data.parquet"
    if kind == "jsonl folder":
        (root / "a.jsonl").write_bytes(_lines(RECORDS[:2]))
        (root / "b.json.gz").write_bytes(gzip.compress(_lines(RECORDS[2:])))
        return root
    if kind == "parquet folder":
        _parquet(root / "part-0.parquet", RECORDS[:3])
        _parquet(root / "part-1.parquet", RECORDS[3:])
        (root / "_SUCCESS").write_bytes(b"")
        return root
    if kind == "one repository":
        _repo(root / "o__r")
        return root / "o__r"
    if kind == "folder of repositories":
        _repo(root / "o__r")
        return root
    raise ValueError(kind)


KINDS = ["jsonl file", "jsonl.gz file", "json array file", "parquet file", "jsonl folder", "parquet folder",
         "one repository", "folder of repositories"]
DETECTED = {"jsonl file": "jsonl", "jsonl.gz file": "jsonl", "json array file": "jsonl", "parquet file": "parquet",
            "jsonl folder": "jsonl", "parquet folder": "parquet", "one repository": "repo",
            "folder of repositories": "repos"}


@pytest.mark.parametrize("kind", KINDS)
def test_format_is_detected(kind, tmp_path):
    from jobs.stages.ingest import detect_format
    assert detect_format(make_input(kind, tmp_path / "in")) == DETECTED[kind]


def test_mixed_and_ambiguous_inputs_are_refused_with_a_clear_message(tmp_path):
    from jobs.stages.ingest import detect_format
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.jsonl").write_bytes(_lines(RECORDS))
    _parquet(mixed / "b.parquet", RECORDS)
    with pytest.raises(UserError, match="mixes input formats .1 JSONL and 1 Parquet"):
        detect_format(mixed)
    beside = tmp_path / "beside"
    _repo(beside / "o__r")
    (beside / "export.jsonl").write_bytes(_lines(RECORDS))
    with pytest.raises(UserError, match="holds data files .export.jsonl. next to other files"):
        detect_format(beside)
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    with pytest.raises(UserError, match="cannot tell the format of .*notes.txt"):
        detect_format(odd)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no input files"):
        detect_format(empty)


def test_json_array_parser_keeps_every_item_or_says_why():
    from udfs.ingest import MALFORMED_JSON, parse_json_array
    assert parse_json_array(_lines(RECORDS), 1 << 20) is None            # JSON Lines: not an array
    parsed = parse_json_array(json.dumps(RECORDS + [3, {"path": "x"}]).encode(), 1 << 20)
    assert [loc for loc, _, _ in parsed] == [f"item {i}" for i in range(7)]
    assert [rec.reason for _, rec, _ in parsed[:5]] == [None] * 5
    assert parsed[5][1].reason == MALFORMED_JSON and parsed[6][1].reason == "missing_field"
    broken = parse_json_array(b'[{"repo_name": "o/r",', 1 << 20)
    assert len(broken) == 1 and broken[0][0] == "file" and broken[0][1].reason == MALFORMED_JSON


@pytest.mark.spark
@pytest.mark.parametrize("kind", KINDS)
def test_every_input_form_ingests_the_same_files(kind, make_ctx, tmp_path):
    from jobs.stages import ingest
    from jobs.core.stage import execute_stage
    lake = tmp_path / "lake"
    ctx = make_ctx(lake, run_id="forms", input=str(make_input(kind, tmp_path / "in")), input_format=None)
    result = execute_stage(ctx, ingest.STAGE)
    rows = ctx.lake.read("bronze/files").collect()
    got = {(r["repo_name"], r["path"]) for r in rows}
    if kind in ("one repository", "folder of repositories"):
        assert got == WANT | {("o/r", "LICENSE"), ("o/r", ODD_PATH)}
        assert {r["license"] for r in rows} == {"MIT"}
    else:
        assert got == WANT
        assert {r["stars"] for r in rows} == set(range(5))
    assert result.rows_rejected == 0 and result.metrics["input_format"] == DETECTED[kind]
