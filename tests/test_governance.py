"""Opt-out: select drops opted-out repositories; `optout apply` deletes them from every table and
VACUUMs, so time travel to an older version cannot return them; membership lists them."""
from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.spark

PY = "def main():\n    print('hello from a small module')\n    return 0\n"


def bronze_rows():
    from udfs.ingest import file_id, sha256_hex
    rows = []
    for repo, path in [("Alice/proj1", "a.py"), ("alice/proj2", "b/c.py"), ("bob/lib", "lib.py"),
                       ("carol/x", "x.py"), ("carol/y", "y.py"), ("alicette/z", "z.py")]:
        content = PY.replace("small", repo)
        rows.append({"file_id": file_id(repo, path), "repo_name": repo, "path": path, "content": content,
                     "size_bytes": len(content), "content_sha256": sha256_hex(content.encode()), "license": "MIT",
                     "stars": 1, "source": "test", "run_id": "gov", "ingested_at": dt.datetime(2024, 1, 1)})
    return rows


def test_optout_select_apply_time_travel_membership(spark, tmp_lake, make_ctx, capsys):
    from pyspark.sql import functions as F

    from jobs.stages import filter as filter_stage
    from jobs.stages import governance, select
    from jobs.cli import main
    from jobs.core.stage import execute_stage
    from schemas import table
    from udfs.ingest import file_id

    from jobs.core.stage import adopt_tables
    from jobs.stages import get_stage
    ctx = make_ctx(tmp_lake, run_id="gov")
    ctx.lake.overwrite(spark.createDataFrame(bronze_rows(), table("bronze/files").schema), "bronze/files")
    adopt_tables(ctx, get_stage("ingest"), ("bronze/files",))

    # 1. A repository opted out before select is dropped by select with reason opted_out.
    assert main(["optout", "add", "carol/x", "--lake", str(tmp_lake)]) == 0
    assert main(["optout", "add", "carol/x", "--lake", str(tmp_lake)]) == 0   # idempotent
    assert "already recorded" in capsys.readouterr().out
    assert main(["optout", "add", "not a name", "--lake", str(tmp_lake)]) == 2
    for stage in (select, filter_stage):
        execute_stage(ctx, stage.STAGE)
    rej = ctx.lake.read("silver/rejections").filter("stage = 'select'").collect()
    assert [(r["repo_name"], r["reason"]) for r in rej] == [("carol/x", "opted_out")]
    # PII findings only carry file_id: one for alice's file, one for bob's.
    pii = spark.createDataFrame([(file_id("Alice/proj1", "a.py"), "EMAIL", 1, 5, "regex", "gov"),
                                 (file_id("bob/lib", "lib.py"), "EMAIL", 1, 5, "regex", "gov")],
                                table("silver/pii_findings").schema)
    ctx.lake.overwrite(pii, "silver/pii_findings")
    # As passed gates would: membership and every reader see the published versions.
    from jobs.core.publish import publish
    tables = ("bronze/files", "silver/selected", "silver/filtered", "silver/rejections", "silver/pii_findings")
    publish(tmp_lake, {n: ctx.lake.version(n) for n in tables}, "gov", "test")

    # 2. membership before: alice's two repositories (owner match is case-insensitive; alicette is not alice).
    found = governance.membership(ctx, "ALICE")
    assert [r for r, _ in found["bronze/files"]] == ["Alice/proj1", "alice/proj2"]
    assert [r for r, _ in found["silver/filtered"]] == ["Alice/proj1", "alice/proj2"]
    old_versions = {name: ctx.lake.version(name) for name in
                    ("bronze/files", "silver/selected", "silver/filtered", "silver/pii_findings")}

    # 3. alice opts out; apply deletes from every table and vacuums.
    assert main(["optout", "add", "alice", "--lake", str(tmp_lake)]) == 0
    assert main(["optout", "apply", "--lake", str(tmp_lake)]) == 0
    out = capsys.readouterr().out
    assert "bronze/files: 3 rows deleted (vacuumed)" in out   # alice x2 + carol/x
    assert "silver/pii_findings: 1 rows deleted (vacuumed)" in out

    cond = governance.repo_condition(["alice"], ["carol/x"])
    for name in ("bronze/files", "silver/selected", "silver/filtered", "silver/rejections"):
        assert ctx.lake.read(name).filter(cond).count() == 0, name
    assert {r["repo_name"] for r in ctx.lake.read("bronze/files").collect()} == {"bob/lib", "carol/y", "alicette/z"}
    assert [r["file_id"] for r in ctx.lake.read("silver/pii_findings").collect()] == [file_id("bob/lib", "lib.py")]
    assert all(r["applied_at"] is not None for r in ctx.lake.read("governance/optout").collect())
    # the versions without the rows are the published ones (the old ones are vacuumed)
    assert all(ctx.lake.published_version(n) == ctx.lake.version(n) for n in tables)
    assert all(not repos for repos in governance.membership(ctx, "alice").values())
    assert [r for r, _ in governance.membership(ctx, "carol")["bronze/files"]] == ["carol/y"]

    # 4. Time travel: every older version that held the rows now points at vacuumed files, so
    #    reading it fails with a missing-file error instead of returning the rows.
    alice_ids = [file_id("Alice/proj1", "a.py"), file_id("alice/proj2", "b/c.py")]
    for name, version in old_versions.items():
        old_cond = F.col("file_id").isin(alice_ids) if name == "silver/pii_findings" else cond
        with pytest.raises(Exception) as err:
            ctx.lake.read(name, version=version).filter(old_cond).count()
        message = str(err.value)
        assert "FileNotFound" in message or "does not exist" in message or "FILE_NOT_FOUND" in message, message[:500]
    # the current version is readable and the history records the DELETE
    ops = [r["operation"] for r in ctx.lake.delta_table("bronze/files").history().collect()]
    assert "DELETE" in ops
    assert ctx.lake.read("bronze/files").filter(F.lower("repo_name").like("alice/%")).count() == 0


CODE = ["def add(a, b):\n    return a + b\n", "function twice(x) { return x * 2; }\n",
        "package main\n\nfunc main() {}\n"]


def _lineage(lake, *extra) -> str:
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "jobs.cli", "lineage", "--lake", str(lake), *extra],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.slow
def test_optout_reaches_tokens_and_lists_affected_checkpoints(spark, tmp_lake, make_ctx, capsys):
    """gold/training_docs → gold/tokens → a trained checkpoint; alice opts out: her documents
    and every sequence holding a token of them are gone at every readable version, the card
    counts the removal without names, and `codemill lineage --affected-by-optout` lists the
    checkpoint and the tokenizer trained before, not a checkpoint trained after."""
    from conftest import write_gold_files
    from jobs.cli import main
    from jobs.core.publish import publish, published_version
    from jobs.core.stage import execute_stage
    from jobs.stages import format as format_stage
    from jobs.stages import governance
    from jobs.stages import tokenize as tokenize_stage
    from quality_checks.card import build_card
    from trainer.train import train_from_lake

    overrides = {"tokenizer": {"vocab_size": 500}, "tokenize": {"seq_len": 63, "seed": 3},
                 "format": {"seed": 2, "mode": "file"}}

    def curate(run_id):
        ctx = make_ctx(tmp_lake, run_id=run_id, config_overrides=overrides)
        if run_id == "before":
            write_gold_files(ctx, [(f"{i:04d}" + "a" * 28, ["alice/app", "bob/lib", "carol/cli"][i % 3],
                                    f"src/f{i}.py", f"# file {i}\n" + CODE[i % 3] * (2 + i % 4), i, "python")
                                   for i in range(30)], publish=True)
        for stage in (format_stage, tokenize_stage):
            execute_stage(ctx, stage.STAGE)
        versions = {t: ctx.lake.version(t) for t in ("gold/training_docs", "gold/tokens")}
        publish(tmp_lake, versions, run_id, "tokenize", "as passed gates would")
        return ctx, versions

    ctx, before = curate("before")
    alice_docs = {r["doc_id"] for r in ctx.lake.read("gold/training_docs").where("repo_name = 'alice/app'").collect()}
    sequences = ctx.lake.read("gold/tokens").collect()
    touching = [r["seq_id"] for r in sequences if alice_docs & set(r["doc_ids"])]
    assert alice_docs and 0 < len(touching) < len(sequences)
    run_before = train_from_lake(tmp_lake, "tiny", steps=1, output_dir=tmp_lake / "runs" / "before")
    assert "AFFECTED" not in _lineage(tmp_lake)

    assert main(["optout", "add", "alice", "--lake", str(tmp_lake)]) == 0
    assert main(["optout", "apply", "--lake", str(tmp_lake)]) == 0
    out = capsys.readouterr().out
    assert f"gold/tokens: {len(touching)} rows deleted (vacuumed)" in out
    assert f"gold/training_docs: {len(alice_docs)} rows deleted (vacuumed)" in out

    # Nothing of alice at the readable versions; older versions cannot be read back.
    left = ctx.lake.read("gold/tokens").collect()
    assert len(left) == len(sequences) - len(touching)
    assert not any(alice_docs & set(r["doc_ids"]) for r in left)
    assert ctx.lake.read("gold/training_docs").where("repo_name = 'alice/app'").count() == 0
    for table, version in before.items():
        assert published_version(tmp_lake, table) == ctx.lake.version(table) > version
        with pytest.raises(Exception):  # collect, not count: Delta answers a count from its log
            ctx.lake.read(table, version).collect()
    (tokens_log,) = [r for r in governance.optout_log(tmp_lake) if r["table_name"] == "gold/tokens"]
    assert tokens_log["rows_deleted"] == len(touching) and before["gold/tokens"] in tokens_log["holding_versions"]

    # A run curated and trained after the removal is not affected; the one before and the tokenizer are.
    curate("after")
    run_after = train_from_lake(tmp_lake, "tiny", steps=1, output_dir=tmp_lake / "runs" / "after")
    listed = _lineage(tmp_lake, "--affected-by-optout")
    assert f"{run_before}  (gold/tokens v{before['gold/tokens']}" in listed and "AFFECTED" in listed
    assert str(run_after) not in listed
    assert f"tokenizer {tmp_lake / 'tokenizer'}" in listed
    walked = _lineage(tmp_lake)
    assert str(run_after) in walked and "written by tokenize in run after" in walked
    assert "written by format in run after" in walked

    card = build_card(ctx.lake, ctx.config).read_text()
    assert "Removals applied" in card and "alice" not in card.lower()
