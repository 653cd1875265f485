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
