"""jobs/lake.py on real Delta tables (shared SparkSession): versions and replace_where."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.spark

DDL = "file_id string, repo_name string, path string, reason string, detail string, size_bytes long, language string, stage string, run_id string, rejected_at timestamp"


def _rows(spark, stage: str, run_id: str, ids: list[str]):
    import datetime as dt
    at = dt.datetime(2026, 1, 1)
    return spark.createDataFrame([(i, "o/r", f"{i}.py", "exact_duplicate", None, 1, "python", stage, run_id, at)
                                  for i in ids], DDL)


def test_replace_where_creates_the_table_then_replaces_only_matching_rows(spark, tmp_lake):
    from delta.tables import DeltaTable

    from jobs.core.lake import Lake
    lake = Lake(spark, tmp_lake)
    name = "silver/rejections"
    assert lake.version(name) is None and not lake.exists(name)

    # a missing table is created by the write itself: one commit, version 0
    assert lake.replace_where(_rows(spark, "dedup", "r1", ["a", "b"]), name, "stage = 'dedup' AND run_id = 'r1'") == 0
    assert lake.replace_where(_rows(spark, "filter", "r1", ["c"]), name, "stage = 'filter' AND run_id = 'r1'") == 1
    # re-running a stage for the same run replaces its rows and nothing else
    assert lake.replace_where(_rows(spark, "dedup", "r1", ["d"]), name, "stage = 'dedup' AND run_id = 'r1'") == 2
    rows = {(r["stage"], r["file_id"]) for r in lake.read(name).collect()}
    assert rows == {("filter", "c"), ("dedup", "d")}
    # the version read from the log listing is Delta's own
    assert lake.version(name) == DeltaTable.forPath(spark, lake.path(name)).history(1).collect()[0]["version"] == 2
    assert lake.read(name, version=0).count() == 2


def test_null_counts_come_from_the_delta_log_and_gates_skip_bulk_columns(spark, tmp_lake):
    """Lake.null_counts reads Delta's per-file statistics; the gates' stand-in for a bulk
    column is a constant when the statistics say it holds no null (the column is not read),
    and keeps the nulls when it does (so not-null expectations still fail)."""
    from pyspark.sql import functions as F

    from jobs.core.lake import Lake
    from quality_checks.gates import without_content

    lake = Lake(spark, tmp_lake)
    df = spark.createDataFrame([("a", "x" * 100, [1, 2]), ("b", None, None)],
                               "file_id string, content string, input_ids array<int>")
    path = lake.path("silver/redacted")
    df.write.format("delta").save(path)
    counts = lake.null_counts("silver/redacted")
    assert counts["content"] == 1 and counts["input_ids"] == 1 and counts["file_id"] == 0

    kept_nulls = without_content(spark.read.format("delta").load(path), counts)
    rows = {r["file_id"]: r for r in kept_nulls.collect()}
    assert rows["a"]["content"] == "" and rows["a"]["input_ids"] == [] and rows["b"]["content"] is None
    assert dict(kept_nulls.dtypes) == {"file_id": "string", "content": "string", "input_ids": "array<int>"}

    df.where("file_id = 'a'").write.format("delta").mode("overwrite").save(path)
    counts = lake.null_counts("silver/redacted")
    assert counts["content"] == 0 and lake.null_counts("silver/redacted", 0)["content"] == 1
    constant = without_content(spark.read.format("delta").load(path), counts)
    read_schema = constant._jdf.queryExecution().executedPlan().toString()
    assert "ReadSchema: struct<file_id:string>" in read_schema
    assert constant.where(F.col("content") == "").count() == 1
