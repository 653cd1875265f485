"""Ingest stage on real Delta tables (shared SparkSession)."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from udfs import ingest as rules

pytestmark = pytest.mark.spark


def _ingest(make_ctx, lake, input_path, run_id="r1", fmt=None, max_bytes=None):
    from jobs.stages import ingest
    from jobs.core.stage import execute_stage
    overrides = {"ingest": {"max_file_bytes": max_bytes}} if max_bytes else None
    ctx = make_ctx(lake, run_id=run_id, config_overrides=overrides, input=str(input_path), input_format=fmt)
    return ctx, execute_stage(ctx, ingest.STAGE)


def _write_jsonl_with_bad_lines(folder: Path) -> dict:
    folder.mkdir(parents=True)
    good = [{"repo_name": f"o/r{i % 3}", "path": f"src/f{i}.py", "content": f"x = {i}\n", "stars": i,
             "license": "MIT"} for i in range(40)]
    lines = [json.dumps(r).encode() for r in good]
    bad = [
        b'{"repo_name": "o/r", "path": "broken.py", "content": "x',   # truncated JSON
        b'not json at all',
        b'{"repo_name": "o/r", "content": "no path"}',                  # missing path
        b'{"repo_name": "o/r", "path": "bin.py", "content": "a\\u0000b"}',
        b'{"repo_name": "o/r", "path": "latin.py", "content": "caf\xe9"}',  # raw invalid UTF-8
    ]
    mixed = lines[:10] + bad[:2] + lines[10:25] + bad[2:] + lines[25:]
    (folder / "part-0.jsonl").write_bytes(b"\n".join(mixed[:30]) + b"\n")
    (folder / "part-1.jsonl.gz").write_bytes(gzip.compress(b"\n".join(mixed[30:]) + b"\n\n"))
    return {"good": len(good), "bad": len(bad)}


def test_jsonl_rows_in_equal_bronze_plus_quarantine(make_ctx, tmp_lake, tmp_path):
    expected = _write_jsonl_with_bad_lines(tmp_path / "in")
    ctx, result = _ingest(make_ctx, tmp_lake, tmp_path / "in")
    bronze = ctx.lake.read("bronze/files")
    quarantine = ctx.lake.read("bronze/quarantine")
    assert bronze.count() == expected["good"]
    assert quarantine.count() == expected["bad"]
    assert result.rows_in == expected["good"] + expected["bad"] == bronze.count() + quarantine.count()
    assert result.rows_kept + result.rows_rejected == result.rows_in
    reasons = sorted(r["reason"] for r in quarantine.select("reason").collect())
    assert reasons == sorted([rules.MALFORMED_JSON, rules.MALFORMED_JSON, rules.MISSING_FIELD,
                              rules.BINARY, rules.INVALID_UTF8])
    # Where each bad record came from is kept, its content is not.
    located = {(Path(r["source"]).name, r["locator"]) for r in quarantine.collect()}
    assert ("part-0.jsonl", "line 11") in located
    row = bronze.filter("path = 'src/f7.py'").collect()[0]
    assert row["file_id"] == rules.file_id("o/r1", "src/f7.py")
    assert row["content_sha256"] == rules.sha256_hex(b"x = 7\n")
    assert row["size_bytes"] == 6 and row["stars"] == 7 and row["license"] == "MIT"
    runs = ctx.lake.read("ops/runs").filter("stage = 'ingest'").collect()
    assert len(runs) == 1 and runs[0]["rows_in"] == 45 and runs[0]["rejected_by_reason"]["malformed_json"] == 2


def test_reingest_is_idempotent(make_ctx, tmp_lake, tmp_path):
    _write_jsonl_with_bad_lines(tmp_path / "in")
    ctx, _ = _ingest(make_ctx, tmp_lake, tmp_path / "in", run_id="r1")
    first = (ctx.lake.read("bronze/files").count(), ctx.lake.read("bronze/quarantine").count())
    ctx, _ = _ingest(make_ctx, tmp_lake, tmp_path / "in", run_id="r2")
    assert (ctx.lake.read("bronze/files").count(), ctx.lake.read("bronze/quarantine").count()) == first
    assert ctx.lake.read("ops/runs").count() == 2


def test_duplicate_path_in_input_is_quarantined(make_ctx, tmp_lake, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rec = {"repo_name": "o/r", "path": "a.py", "content": "x = 1\n"}
    (folder / "a.jsonl").write_text(json.dumps(rec) + "\n" + json.dumps({**rec, "content": "x = 2\n"}) + "\n")
    ctx, result = _ingest(make_ctx, tmp_lake, folder)
    assert ctx.lake.read("bronze/files").count() == 1
    assert [r["reason"] for r in ctx.lake.read("bronze/quarantine").collect()] == [rules.DUPLICATE_PATH]
    assert result.rows_in == 2


def test_parquet_with_stack_columns(spark, make_ctx, tmp_lake, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pa.table({
        "content": ["int main() { return 0; }\n", "a\x00b", "y" * 2000, None],
        "max_stars_repo_path": ["main.c", "bin.dat", "big.txt", "none.c"],
        "max_stars_repo_name": ["o/c", "o/c", "o/c", "o/c"],
        "max_stars_count": [3, 3, 3, 3],
        "max_stars_repo_licenses": [["MIT"], ["MIT"], ["MIT"], ["MIT"]],
    })
    (tmp_path / "pq").mkdir()
    pq.write_table(table, tmp_path / "pq" / "data.parquet")
    ctx, result = _ingest(make_ctx, tmp_lake, tmp_path / "pq", max_bytes=1000)
    bronze = ctx.lake.read("bronze/files").collect()
    assert [(r["path"], r["license"], r["stars"]) for r in bronze] == [("main.c", "MIT", 3)]
    reasons = sorted(r["reason"] for r in ctx.lake.read("bronze/quarantine").collect())
    assert reasons == [rules.BINARY, rules.MISSING_FIELD, rules.OVERSIZED]
    assert result.rows_in == 4


def _make_repos(root: Path) -> None:
    (root / "alice__tools" / "src").mkdir(parents=True)
    (root / "alice__tools" / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge, "
                                                  "to any person obtaining a copy\n")
    (root / "alice__tools" / "src" / "a.py").write_text("def a():\n    return 1\n")
    (root / "alice__tools" / "src" / "bad.py").write_bytes("# caf\u00e9\n".encode("latin-1"))
    (root / "alice__tools" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (root / "alice__tools" / ".git").mkdir()
    (root / "alice__tools" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "bob__lib").mkdir()
    (root / "bob__lib" / ".codemill-repo.json").write_text(json.dumps({"repo_name": "bob/lib", "stars": 42,
                                                                       "license": "Apache-2.0"}))
    (root / "bob__lib" / "lib.go").write_text("package lib\n")


def test_repository_folders(make_ctx, tmp_lake, tmp_path):
    _make_repos(tmp_path / "repos")
    ctx, result = _ingest(make_ctx, tmp_lake, tmp_path / "repos")
    files = {(r["repo_name"], r["path"]): r for r in ctx.lake.read("bronze/files").collect()}
    assert set(files) == {("alice/tools", "LICENSE"), ("alice/tools", "src/a.py"), ("bob/lib", "lib.go")}
    assert files[("alice/tools", "src/a.py")]["license"] == "MIT"
    assert files[("bob/lib", "lib.go")]["license"] == "Apache-2.0"
    assert files[("bob/lib", "lib.go")]["stars"] == 42
    reasons = {r["path"]: r["reason"] for r in ctx.lake.read("bronze/quarantine").collect()}
    assert reasons == {"src/bad.py": rules.INVALID_UTF8, "logo.png": rules.BINARY}
    assert result.rows_in == 5


@pytest.mark.skipif(not (Path(__file__).parents[1] / "tests/data/sample_manifest.yaml").exists(),
                    reason="sample corpus manifest not present")
def test_sample_corpus_ingests_as_planted(make_ctx, tmp_lake):
    import yaml
    from conftest import SAMPLE_CORPUS
    manifest = yaml.safe_load((SAMPLE_CORPUS.parent / "sample_manifest.yaml").read_text())
    ctx, result = _ingest(make_ctx, tmp_lake, SAMPLE_CORPUS)
    quarantine = {(r["repo_name"], r["path"]): r["reason"] for r in ctx.lake.read("bronze/quarantine").collect()}
    assert quarantine == {(q["repo_name"], q["path"]): q["reason"] for q in manifest["quarantine"]}
    assert ctx.lake.read("bronze/files").count() + len(quarantine) == manifest["counts"]["input_files"]
    assert result.rows_in == manifest["counts"]["input_files"]
    for repo, spdx in manifest.get("licenses", {}).items():
        found = {r["license"] for r in ctx.lake.read("bronze/files").filter(f"repo_name = '{repo}'").collect()}
        assert found == {spdx}, repo


@pytest.mark.slow
def test_venv_spark_submit_and_codemill_work_without_activating_the_venv(tmp_path):
    """What a scheduler or a script does: call `.venv/bin/spark-submit jobs/submit.py ingest` and
    `.venv/bin/codemill ingest` with a bare PATH (no venv on it, no PYSPARK_PYTHON, no
    SPARK_HOME). `codemill setup` made the venv's spark-submit find its Spark."""
    from jobs.core.session import cached_jars, install_spark_defaults, install_spark_home_hint
    if not cached_jars():
        pytest.skip("jars not resolved: run `codemill setup`")
    install_spark_defaults()
    install_spark_home_hint()
    _make_repos(tmp_path / "repos")
    root = Path(__file__).resolve().parents[1]
    bin_dir = Path(sys.executable).parent
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "CODEMILL_DRIVER_MEMORY": "1g",
            "LANG": "C.UTF-8"}
    from jobs.core.delta_read import query
    for how, cmd in (("spark-submit", [str(bin_dir / "spark-submit"), str(root / "jobs" / "submit.py"), "ingest"]),
                     ("codemill", [str(bin_dir / "codemill"), "ingest"])):
        lake = tmp_path / f"lake-{how}"
        proc = subprocess.run(cmd + ["--input", str(tmp_path / "repos"), "--lake", str(lake), "--run-id", "submit-1"],
                              capture_output=True, text=True, env=bare, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, f"{how}: {proc.stderr[-3000:]}"
        assert "OK   gate ingest" in proc.stdout, proc.stdout
        assert query(str(lake / "bronze" / "files"), "SELECT file_id FROM t").num_rows == 3
        assert query(str(lake / "bronze" / "quarantine"), "SELECT quarantine_id FROM t").num_rows == 2
