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
