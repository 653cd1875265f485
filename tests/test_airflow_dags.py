"""Airflow DAGs (airflow_dags/): import, structure, and one real run of the curation DAG.

Airflow lives in its own venv (.venv-airflow, made by scripts/setup_airflow.sh): the Spark
provider's pyspark-client would break the main venv's pyspark. These tests run with the main
venv's pytest and drive Airflow through `.venv-airflow/bin/python` in subprocesses, each with
a temporary AIRFLOW_HOME (SQLite metadata DB) and AIRFLOW__CORE__DAGS_FOLDER=airflow_dags.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_harness import AIRFLOW_PY, AIRFLOW_VENV, DAGS, RUN_DAGS, airflow_env, run_airflow_python

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CORPUS = REPO / "tests" / "data" / "sample_corpus"

pytestmark = pytest.mark.skipif(
    not AIRFLOW_PY.exists(),
    reason=f"no Airflow venv at {AIRFLOW_VENV}: run scripts/setup_airflow.sh (apache-airflow 3.3.2 in its own venv)")


# ---- import + structure (one DagBag parse for all of them) ------------------------------

INSPECT = """
    import json, sys, time
    t0 = time.time()
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    seconds = time.time() - t0

    def asset(a):
        return {"name": a.name, "uri": a.uri}

    def td(x):
        return None if x is None else x.total_seconds()

    dags = {}
    for dag_id, dag in bag.dags.items():
        tasks = {}
        for t in dag.tasks:
            tasks[t.task_id] = {
                "type": type(t).__name__, "upstream": sorted(t.upstream_task_ids),
                "downstream": sorted(t.downstream_task_ids), "retries": t.retries,
                "retry_delay": td(t.retry_delay), "execution_timeout": td(t.execution_timeout),
                "outlets": [asset(a) for a in t.outlets], "inlets": [asset(a) for a in t.inlets],
                "application": getattr(t, "application", None),
                "application_args": getattr(t, "application_args", None),
                "conn_id": getattr(t, "_conn_id", None), "env_vars": getattr(t, "env_vars", None),
                "bash_command": getattr(t, "bash_command", None), "env": getattr(t, "env", None),
            }
        schedule = dag.schedule
        dags[dag_id] = {
            "schedule": schedule if isinstance(schedule, str) else [asset(a) for a in schedule],
            "catchup": dag.catchup, "max_active_runs": dag.max_active_runs, "tasks": tasks,
            "params": sorted(dag.params.keys()),
        }
    heavy = sorted(m for m in ("pyspark", "torch", "deltalake", "deepspeed", "transformers")
                   if m in sys.modules)
    print("RESULT " + json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": dags,
                      "heavy_modules": heavy, "parse_seconds": seconds}))
"""


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    return run_airflow_python(tmp_path_factory.mktemp("airflow_home"), INSPECT, str(DAGS), timeout=300)


def test_dagbag_imports_both_dags_without_errors(bag):
    assert bag["errors"] == {}
    assert set(bag["dags"]) == {"codemill_curation", "codemill_training"}


def test_dag_files_stay_thin(bag):
    # Parsing the DAG folder reads codemill's registry and config only: no Spark session
    # machinery, torch, delta-rs or transformers; and no data logic in the files themselves.
    assert bag["heavy_modules"] == []
    for path in DAGS.glob("*.py"):
        text = path.read_text()
        for forbidden in ("import pyspark", "from pyspark", "import torch", "from jobs.stages.", "udfs"):
            assert forbidden not in text, f"{path.name} contains {forbidden!r}"


def test_curation_runs_every_stage_of_the_registry_in_order_each_followed_by_its_gate(bag):
    from jobs.stages import stage_names
    tasks = bag["dags"]["codemill_curation"]["tasks"]
    stages = stage_names()
    expected = ["preflight"] + [t for s in stages for t in (s, f"gate_{s}")] + ["publish_gold_tokens"]
    assert set(tasks) == set(expected)
    # A straight chain: each task's only (non-XCom) upstream is the one before it.
    for before, after in zip(expected, expected[1:]):
        assert before in tasks[after]["upstream"], f"{before} must run before {after}"
        assert tasks[before]["downstream"] == [after] or before == "preflight", tasks[before]["downstream"]
    for stage in stages:
        assert tasks[stage]["type"] == "SparkSubmitOperator"
        assert tasks[f"gate_{stage}"]["type"] == "BashOperator"
        assert tasks[f"gate_{stage}"]["upstream"] == [stage]
        assert f"codemill check {stage} " in tasks[f"gate_{stage}"]["bash_command"]
        assert tasks[f"gate_{stage}"]["bash_command"].startswith(str(REPO / ".venv" / "bin" / "codemill"))
    # The asset is emitted only after the last gate.
    publish = tasks["publish_gold_tokens"]
    assert f"gate_{stages[-1]}" in publish["upstream"]
    assert publish["outlets"] == [{"name": "codemill_gold_tokens", "uri": "codemill://lake/gold/tokens"}]


def test_curation_schedule_catchup_retries_and_timeouts(bag):
    dag = bag["dags"]["codemill_curation"]
    assert dag["schedule"] == "@daily"
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1
    for task_id, t in dag["tasks"].items():
        assert t["execution_timeout"] and t["execution_timeout"] > 0, task_id
        if task_id.startswith("gate_"):
            assert t["retries"] == 0, f"{task_id}: a failed gate must not be retried"
        else:
            assert t["retries"] >= 1 and t["retry_delay"] > 0, task_id


def test_spark_tasks_submit_every_stage_through_the_one_entry_point_with_the_main_venv(bag):
    tasks = bag["dags"]["codemill_curation"]["tasks"]
    venv_bin = str(REPO / ".venv" / "bin")
    for stage in ("ingest", "tokenize"):
        t = tasks[stage]
        assert t["application"] == str(REPO / "jobs" / "submit.py")
        assert t["conn_id"] == "spark_default"
        args = t["application_args"]
        assert args[:2] == [stage, "--no-gate"]
        for flag in ("--lake", "--run-id", "--config"):
            assert flag in args
        assert ("--input" in args) == (stage == "ingest")
        # always passed, with the run's value (a templated argument cannot vanish when false)
        assert args[args.index("--incremental") + 1] == "{{ ti.xcom_pull(task_ids='preflight')['incremental'] }}"
        assert t["env_vars"]["PATH"].split(os.pathsep)[0] == venv_bin  # spark-submit from the main venv
        # the executors' Python: the run's plan, whose default is the main venv's (preflight)
        assert t["env_vars"]["PYSPARK_PYTHON"] == "{{ ti.xcom_pull(task_ids='preflight')['executor_python'] }}"


def test_training_dag_is_scheduled_on_the_curation_asset(bag):
    dag = bag["dags"]["codemill_training"]
    assert dag["schedule"] == bag["dags"]["codemill_curation"]["tasks"]["publish_gold_tokens"]["outlets"]
    assert dag["catchup"] is False
    tasks = dag["tasks"]
    assert tasks["train"]["upstream"] == ["resolve_gold_version"]
    assert "resolve_gold_version" in tasks["record_lineage"]["upstream"] and "train" in tasks["record_lineage"]["upstream"]
    assert tasks["resolve_gold_version"]["inlets"] == dag["schedule"]
    assert tasks["record_lineage"]["outlets"] == [{"name": "codemill_checkpoint", "uri": "codemill://runs/checkpoint"}]
    assert tasks["train"]["retries"] >= 1 and tasks["train"]["execution_timeout"] > 0


# ---- the curation DAG for real ---------------------------------------------------------

def _corrupt_quarantine(spark, lake: Path) -> None:
    """A bronze/quarantine row with a reason outside the shared vocabulary (as a broken earlier
    writer would leave it): the ingest gate must catch it."""
    from jobs.core.lake import Lake
    from schemas import table as table_def
    row = {"quarantine_id": "corrupted-by-test", "source": "elsewhere", "locator": "line 1", "repo_name": None,
           "path": None, "reason": "not_a_known_reason", "detail": None, "size_bytes": 0, "run_id": "old-run",
           "ingested_at": None}
    Lake(spark, lake).append(spark.createDataFrame([row], table_def("bronze/quarantine").schema), "bronze/quarantine")


@pytest.mark.slow
@pytest.mark.spark
def test_curation_dag_for_real_gate_failure_stops_it_and_success_publishes_gold_tokens(tmp_path, spark):
    if not (SAMPLE_CORPUS.is_dir() and any(SAMPLE_CORPUS.iterdir())):
        pytest.skip("tests/data/sample_corpus is not there yet")
    home, bad_lake, good_lake = tmp_path / "airflow_home", tmp_path / "bad_lake", tmp_path / "good_lake"
    _corrupt_quarantine(spark, bad_lake)
    common = {"input": str(SAMPLE_CORPUS), "driver_memory": os.environ.get("CODEMILL_DRIVER_MEMORY", "2g")}

    t0 = time.time()
    migrate = subprocess.run([str(AIRFLOW_VENV / "bin" / "airflow"), "db", "migrate"], env=airflow_env(home),
                             capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    migrate_s = time.time() - t0

    spec = {"dags_folder": str(DAGS), "runs": [
        {"dag_id": "codemill_curation", "conf": {**common, "lake": str(bad_lake), "data_docs": False}},
        {"dag_id": "codemill_curation", "conf": {**common, "lake": str(good_lake), "data_docs": True}},
        # No conf: the training DAG must find the version in the asset event the clean run emitted.
        {"dag_id": "codemill_training", "conf": {}},
    ]}
    log = tmp_path / "harness.log"
    failed, passed, trained = run_airflow_python(home, RUN_DAGS, json.dumps(spec), timeout=3600, log=log)
    print(f"airflow db migrate {migrate_s:.0f}s; failing run {failed['seconds']:.0f}s; "
          f"full run {passed['seconds']:.0f}s; training run {trained['seconds']:.0f}s; "
          f"total {time.time() - t0:.0f}s (log: {log})")

    # 1. The corrupted lake: ingest ran, its gate failed, nothing after it ran, no asset event,
    #    so the training DAG was not queued.
    assert failed["state"] == "failed", failed
    assert failed["tasks"]["ingest"] == "success"
    assert failed["tasks"]["gate_ingest"] == "failed"
    assert failed["tasks"]["select"] == "upstream_failed"
    assert failed["tasks"]["publish_gold_tokens"] == "upstream_failed"
    assert failed["gold_token_events"] == []
    assert "codemill_training" not in failed["queued_dags"]
    # The gate task's output (dag.test() relays it to the harness's stdout) names the table,
    # the expectation, the failing-row count and the id of the bad row.
    assert ("bronze/quarantine: expect_column_values_to_be_in_set(reason): 1 failing rows; "
            "e.g. corrupted-by-test") in log.read_text(errors="replace")

    # 2. The clean lake: every stage and gate passed, gold/tokens exists, and its Delta version
    #    is in the asset event that queued the training DAG.
    assert passed["state"] == "success", passed
    assert set(passed["tasks"].values()) == {"success"}, passed["tasks"]
    from deltalake import DeltaTable
    tokens = DeltaTable(str(good_lake / "gold" / "tokens"))
    from jobs.core.delta_read import query
    assert query(str(good_lake / "gold" / "tokens"), "SELECT count(*) AS n FROM t").column("n")[0].as_py() > 0
    (event,) = passed["gold_token_events"]
    assert event["source_dag_id"] == "codemill_curation" and event["source_run_id"] == passed["run_id"]
    assert event["extra"]["version"] == tokens.version()
    assert event["extra"]["lake"] == str(good_lake.resolve())
    assert event["extra"]["versions"]["gold/training_docs"] == DeltaTable(str(good_lake / "gold" / "training_docs")).version()
    assert "codemill_training" in passed["queued_dags"], passed["queued_dags"]
    # Every gate ran on this run's id and recorded its results.
    dq = query(str(good_lake / "ops" / "dq_results"), "SELECT * FROM t").to_pylist()
    assert dq, "ops/dq_results is empty"

    # 3. The training DAG: trained on exactly the version in that asset event (a CPU smoke run:
    #    tiny model, DeepSpeed ZeRO-2 through the deepspeed launcher) and recorded the lineage.
    assert trained["state"] == "success", trained
    assert set(trained["tasks"].values()) == {"success"}, trained["tasks"]
    out = good_lake.resolve() / "runs" / f"train-gold-tokens-v{event['extra']['version']}"
    lineage = json.loads((out / "airflow_lineage.json").read_text())
    assert lineage["gold_tokens"]["version"] == tokens.version()
    assert lineage["curation_airflow_run_id"] == passed["run_id"]
    assert json.loads((out / "lineage.json").read_text())["table_version"] == tokens.version()
    assert lineage["checkpoint"] and (out / "hf").is_dir()
