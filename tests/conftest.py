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
    from jobs.session import get_spark
    session = get_spark("codemill-tests", extra_conf={"spark.ui.enabled": "false",
                                                      "spark.sql.shuffle.partitions": "4"})
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

    from jobs.config import deep_merge, load_config
    from jobs.lake import Lake
    from jobs.stage import StageContext

    def build(lake_dir, run_id="test-run", config_overrides=None, **args):
        config = load_config()
        if config_overrides:
            config = deep_merge(config, config_overrides)
        return StageContext(spark=spark, lake=Lake(spark, lake_dir), config=config, run_id=run_id,
                            args=argparse.Namespace(**args))
    return build
