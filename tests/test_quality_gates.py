"""Data-quality gates on a real lake: the clean sample corpus passes the gates of the stages
run here, and a corrupted table (null content, duplicate file_id, a row that vanished between
stages) fails its gate with a message naming the table, the expectation, the failing rows
and the file_id. Results land in ops/dq_results."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jobs.core.config import REPO_ROOT

SAMPLE = REPO_ROOT / "tests" / "data" / "sample_corpus"
pytestmark = [pytest.mark.spark, pytest.mark.skipif(not SAMPLE.exists(), reason="sample corpus missing")]
RUN = "gate-run"


@pytest.fixture(scope="module")
def clean_lake(spark, tmp_path_factory):
    """The sample corpus through ingest, select and filter, each followed by its gate."""
    import argparse

    from jobs.stages import filter as filter_stage
    from jobs.stages import ingest, select
    from jobs.core.config import load_config
    from jobs.core.lake import Lake
    from jobs.core.stage import StageContext, execute_stage
    from jobs.stages import STAGES
    from quality_checks.gates import gate_after_stage

    lake_dir = tmp_path_factory.mktemp("gates") / "lake"
    ctx = StageContext(spark=spark, lake=Lake(spark, lake_dir), config=load_config(), run_id=RUN,
                       args=argparse.Namespace(input=str(SAMPLE), input_format=None), stages=STAGES)
    reports = {}
    for module in (ingest, select, filter_stage):
        execute_stage(ctx, module.STAGE)
        reports[module.STAGE.name] = gate_after_stage(ctx, module.STAGE)  # raises GateFailed on failure
    return ctx, reports


def _copy(ctx, tmp_path):
    """A copy of the lake's tables (not its GX context, which points at the original)."""
    from jobs.core.lake import Lake
    target = tmp_path / "lake"
    shutil.copytree(ctx.lake.root, target, ignore=shutil.ignore_patterns("gx", "reports"))
    return Lake(ctx.spark, target)


def _rewrite(lake, name, df):
    """Overwrite a table bypassing jobs/lake.py's conforming: what a buggy job could do."""
    df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(lake.path(name))


def test_clean_sample_passes_its_gates(clean_lake):
    ctx, reports = clean_lake
    for stage, report in reports.items():
        assert report.ok, report.message()
        names = {r.expectation for r in report.rows}
        assert "row_accounting.ops_runs" in names and "row_accounting.table_count" in names
    assert "row_lineage.vanished" in {r.expectation for r in reports["select"].rows}
    filt = {r.expectation: r for r in reports["filter"].rows}
    assert filt["filter_threshold.max_line_length"].success and not filt["filter_threshold.max_line_length"].skipped
    langs = {r.expectation for r in reports["select"].rows}
    assert "expect_column_values_to_be_in_set(language)" in langs
    stored = ctx.lake.read("ops/dq_results").where(f"run_id = '{RUN}'")
    assert stored.where("NOT success").count() == 0
    # The gates read their ops/runs row with delta-rs: the same values as Spark's, maps as dicts.
    from jobs.core.stage import stage_run_record
    record = stage_run_record(ctx.lake, "filter", RUN)
    row = ctx.lake.read("ops/runs").where(f"run_id = '{RUN}' AND stage = 'filter'").collect()[0].asDict()
    assert record["rows_in"] == row["rows_in"] and record["status"] == "succeeded"
    assert record["rejected_by_reason"] == row["rejected_by_reason"] and record["rejected_by_reason"]
    assert record["versions_read"] == row["versions_read"] and isinstance(record["versions_written"], dict)
    assert stage_run_record(ctx.lake, "filter", "no-such-run") is None
    assert {r["stage"] for r in stored.select("stage").distinct().collect()} == {"ingest", "select", "filter"}
    # Gates inside a run leave Data Docs to the end of the run: built once, from every result.
    from quality_checks.gates import build_lake_docs
    index = ctx.lake.workspace / "reports" / "data_docs" / "index.html"
    assert not index.exists()
    built = build_lake_docs(ctx.lake)
    assert built and Path(built).resolve() == index.resolve() and index.exists()


def test_null_content_and_duplicate_file_id_fail_the_ingest_gate(clean_lake, tmp_path):
    from pyspark.sql import functions as F

    from quality_checks.gates import GateFailed, run_gate

    ctx, _ = clean_lake
    lake = _copy(ctx, tmp_path)
    files = lake.read("bronze/files").orderBy("file_id").cache()
    ids = [r["file_id"] for r in files.select("file_id").limit(2).collect()]
    nulled = files.withColumn("content", F.when(F.col("file_id") == ids[0], F.lit(None)).otherwise(F.col("content")))
    corrupted = nulled.unionByName(files.where(F.col("file_id") == ids[1]))  # a second row with the same id
    _rewrite(lake, "bronze/files", corrupted)
    files.unpersist()

    with pytest.raises(GateFailed) as err:
        run_gate(lake, ctx.config, "ingest", RUN)
    msg = str(err.value)
    assert "bronze/files: expect_column_values_to_not_be_null(content): 1 failing rows" in msg
    assert ids[0] in msg
    assert "bronze/files: expect_column_values_to_be_unique(file_id): 2 failing rows" in msg
    assert ids[1] in msg
    assert "row_accounting.table_count" in msg  # one row more than ops/runs says was kept
    failed = {r["expectation"]: r for r in lake.read("ops/dq_results").where("NOT success").collect()}
    assert failed["expect_column_values_to_not_be_null(content)"]["sample_file_ids"] == [ids[0]]
    assert failed["expect_column_values_to_not_be_null(content)"]["unexpected_count"] == 1


def test_row_vanished_between_stages_fails_the_select_gate(clean_lake, tmp_path):
    from quality_checks.gates import GateFailed, run_gate

    ctx, _ = clean_lake
    lake = _copy(ctx, tmp_path)
    selected = lake.read("silver/selected")
    gone = selected.orderBy("file_id").select("file_id").first()["file_id"]
    lake.overwrite(selected.where(f"file_id != '{gone}'"), "silver/selected")

    with pytest.raises(GateFailed) as err:
        run_gate(lake, ctx.config, "select", RUN, docs=False)
    msg = str(err.value)
    assert "silver/selected: row_lineage.vanished: 1 failing rows; e.g. " + gone in msg
    assert "silver/selected: row_accounting.table_count: 1 failing rows" in msg
    assert "content" not in msg.replace("content_sha256", "")  # ids and counts, never file content


def test_gate_for_absent_table_is_a_user_error(spark, tmp_lake, make_ctx):
    from jobs.core.errors import UserError
    from quality_checks.gates import run_gate

    ctx = make_ctx(tmp_lake)
    with pytest.raises(UserError, match="silver/deduped, silver/dup_clusters do not exist"):
        run_gate(ctx.lake, ctx.config, "dedup", "r")


def test_a_recheck_is_appended_and_readers_see_the_latest(clean_lake, tmp_path):
    """ops/dq_results keeps every evaluation; latest_results (what the report and the card
    read) shows only the newest of each (run, stage)."""
    from pyspark.sql import functions as F

    from quality_checks.gates import GateFailed, latest_results, run_gate

    ctx, reports = clean_lake
    lake = _copy(ctx, tmp_path)
    selected = lake.read("silver/selected")
    gone = selected.orderBy("file_id").select("file_id").first()["file_id"]
    lake.overwrite(selected.where(f"file_id != '{gone}'"), "silver/selected")
    with pytest.raises(GateFailed):
        run_gate(lake, ctx.config, "select", RUN, docs=False)

    stored = lake.read("ops/dq_results").where(f"run_id = '{RUN}' AND stage = 'select'")
    assert stored.select("checked_at").distinct().count() == 2  # the clean evaluation is still there
    latest = latest_results(lake, RUN).where(F.col("stage") == "select").collect()
    assert len(latest) == len(reports["select"].rows)
    assert {r["expectation"] for r in latest if not r["success"]} >= {"row_lineage.vanished",
                                                                     "row_accounting.table_count"}
    others = {r["stage"] for r in latest_results(lake, RUN).collect()}
    assert others == {"ingest", "select", "filter"}


def test_accounting_of_a_table_without_files(spark, tmp_path):
    """gold/tokens holds packed sequences, not files: its rejections are still reconciled with
    ops/runs, and the kept-row count is skipped rather than crashing on a missing file_id."""
    from jobs.core.config import load_config
    from jobs.core.lake import Lake
    from jobs.stages import get_stage
    from quality_checks import checks as agg

    lake = Lake(spark, tmp_path / "lake")
    tokens = spark.createDataFrame([(0, [1, 2, 3], "r1")], "seq_id long, input_ids array<int>, run_id string")
    env = agg.Env(lake=lake, table_name="gold/tokens", df=tokens, config=load_config(), stage=get_stage("tokenize"),
                  run_id="r1")
    env.cache["run_record"] = {"status": "succeeded", "rows_in": 2, "rows_kept": 2, "rows_rejected": 0,
                               "rejected_by_reason": {}, "versions_read": {}}
    assert agg.accounting_rejections(env).failing == 0
    assert agg.accounting_table_count(env).failing is None
    env.cache["run_record"]["rows_rejected"] = 1  # ops/runs claims a rejection that was never stored
    env.cache.pop("accounting")
    assert agg.accounting_rejections(env).failing == 1
