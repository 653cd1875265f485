"""Shared fixtures. ONE SparkSession for the whole suite (session-scoped), started lazily:
unit tests of udfs/ never start it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SAMPLE_CORPUS = REPO_ROOT / "tests" / "data" / "sample_corpus"

# Tests share the machine with other work: keep the driver modest unless told otherwise.
os.environ.setdefault("CODEMILL_DRIVER_MEMORY", "2g")


@pytest.fixture(scope="session")
def spark():
    """The suite's one session, with Spark NLP's jars (test_pii_sparknlp needs them)."""
    from jobs.core.session import get_spark
    session = get_spark("codemill-tests", extra_conf={"spark.ui.enabled": "false",
                                                      "spark.sql.shuffle.partitions": "4"}, nlp=True)
    yield session
    session.stop()


@pytest.fixture()
def tmp_lake(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    return lake


@pytest.fixture()
def make_ctx(spark):
    """Build a StageContext on a lake folder: make_ctx(lake_dir, run_id='r1', config_overrides={...}, **args)."""
    import argparse

    from jobs.core.config import load_config
    from jobs.core.lake import Lake
    from jobs.core.stage import StageContext
    from jobs.stages import STAGES

    def build(lake_dir, run_id="test-run", config_overrides=None, **args):
        return StageContext(spark=spark, lake=Lake(spark, lake_dir), config=load_config(overrides=config_overrides),
                            run_id=run_id, args=argparse.Namespace(**args), stages=STAGES)
    return build


@pytest.fixture()
def write_table(spark):
    """write_table(ctx, name, rows_or_df, stage_name): write a lake table as if `stage_name`
    had produced it in ctx's run (jobs.core.stage.adopt_tables), so later stages read it."""
    from jobs.core.stage import adopt_tables
    from jobs.stages import get_stage
    from schemas import table

    def write(ctx, name, rows, stage_name):
        df = rows if hasattr(rows, "schema") else spark.createDataFrame(rows, table(name).schema)
        ctx.lake.overwrite(df, name)
        adopt_tables(ctx, get_stage(stage_name), (name,))
    return write


def feed_from_bronze(ctx, stage_name: str) -> str:
    """For a test of one stage alone: bronze/files as that stage's input table (its columns
    of later stages written as nulls), recorded as written by the producing stage in ctx's run.
    Returns the input table's name."""
    from jobs.core.stage import adopt_tables, producer
    from jobs.stages import STAGES, get_stage
    name = get_stage(stage_name).inputs[0]
    ctx.lake.overwrite(ctx.lake.read("bronze/files"), name)
    adopt_tables(ctx, producer(STAGES, name), (name,))
    return name


def write_gold_files(ctx, rows, publish: bool = False) -> None:
    """`rows` of (file_id, repo_name, path, content, stars, language) as gold/files, recorded
    as the decontaminate stage's output in ctx's run (and published, as a passed gate would,
    when `publish`): the input of format + tokenize tests."""
    from pyspark.sql import functions as F

    from jobs.core.stage import adopt_tables
    from jobs.stages import get_stage
    df = (ctx.spark.createDataFrame(rows, "file_id string, repo_name string, path string, content string, "
                                          "stars long, language string")
          .withColumn("size_bytes", F.octet_length("content").cast("long"))
          .withColumn("content_sha256", F.sha2("content", 256)).withColumn("run_id", F.lit("seed")))
    ctx.lake.overwrite(df, "gold/files")
    adopt_tables(ctx, get_stage("decontaminate"), ("gold/files",))
    if publish:
        from jobs.core.publish import publish as record
        record(ctx.lake.root, {"gold/files": ctx.lake.version("gold/files")}, ctx.run_id, "decontaminate", "test")


@pytest.fixture(scope="session")
def object_store(tmp_path_factory):
    """An S3-compatible server on loopback (tests/object_store.py), one bucket, for the session.
    Its AWS_* variables (`store.env`) are set in this process while it runs (the driver-side
    readers find the store as a user's shell would) and handed to the processes tests start."""
    pytest.importorskip("moto", reason="moto[server] not installed: pip install -e '.[test]'")
    from object_store import start, stop
    store, proc = start(tmp_path_factory.mktemp("object-store") / "moto.log")
    saved = {k: os.environ.get(k) for k in store.env}
    os.environ.update(store.env)
    try:
        yield store
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        stop(proc)
