"""Driving Airflow from the main venv's tests (tests/test_airflow_dags.py, tests/test_cluster.py).

Airflow lives in its own venv (.venv-airflow, made by scripts/setup_airflow.sh): the Spark
provider's pyspark-client would break the main venv's pyspark. The tests run Airflow through
`.venv-airflow/bin/python` in subprocesses, each with a temporary AIRFLOW_HOME (SQLite metadata
DB) and AIRFLOW__CORE__DAGS_FOLDER=airflow_dags.
"""
from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_VENV = REPO / ".venv-airflow"
AIRFLOW_PY = AIRFLOW_VENV / "bin" / "python"
DAGS = REPO / "airflow_dags"


def airflow_env(home: Path, spark_master: str = "local[2]", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV", "PYSPARK", "SPARK_HOME"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Airflow queues an asset-scheduled DAG only if it is not paused, and new DAGs start
        # paused by default: the training DAG must be live for the asset to trigger it.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        # The spark_default connection: Spark local mode unless a test names a master (docs/airflow.md).
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": spark_master}),
        "PATH": f"{AIRFLOW_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
    })
    env.update(extra)
    return env


def run_airflow_python(home: Path, script: str, *args: str, timeout: float = 600, log: Path | None = None,
                       env: dict[str, str] | None = None):
    """Run `script` with the Airflow venv's interpreter; it prints its result as `RESULT <json>`."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "script.py"
    path.write_text(textwrap.dedent(script))
    log = log or home / "script.log"
    with log.open("w") as sink:  # streamed, so a long run can be followed with tail -f
        proc = subprocess.run([str(AIRFLOW_PY), str(path), *args], env=env or airflow_env(home), cwd=home,
                              stdout=sink, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    output = log.read_text(errors="replace")
    lines = [line[len("RESULT "):] for line in output.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"exit {proc.returncode}\n{output[-10000:]}"
    return json.loads(lines[-1])


# Runs DAGs with dag.test() (Airflow 3.3.2: serializes the DAG, syncs the dags-folder bundle,
# i.e. both DAGs, to the metadata DB, and runs each task in-process), then reads the run's
# state, task states, asset events and the training DAG's queue from the metadata DB.
# dag.test() returns normally when a task fails: the DagRun state is what tells. Each task's
# own output (e.g. a failed gate's message) is relayed to the harness's stdout.
RUN_DAGS = """
    import json, sys, time
    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag

    spec = json.loads(sys.argv[1])
    if settings.Session is None:
        settings.configure_orm()
    bag = DagBag(dag_folder=spec["dags_folder"])
    assert not bag.import_errors, bag.import_errors

    from sqlalchemy import select
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance

    results = []
    for run in spec["runs"]:
        dag = bag.dags[run["dag_id"]]
        for t in dag.tasks:  # a failure must end the test run, not wait for a retry
            t.retries = 0
        t0 = time.time()
        dr = dag.test(run_conf=run["conf"])
        seconds = time.time() - t0
        with settings.Session() as s:
            # Read the queue before the next run: starting a DAG run may consume its row.
            state = s.scalar(select(DagRun.state).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == dr.run_id))
            tis = {ti.task_id: ti.state for ti in s.scalars(select(TaskInstance).where(
                TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == dr.run_id))}
            events = [{"extra": e.extra, "source_dag_id": e.source_dag_id, "source_run_id": e.source_run_id}
                      for e in s.scalars(select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                                          .where(AssetModel.name == "codemill_gold_tokens"))]
            queued = sorted(s.scalars(select(AssetDagRunQueue.target_dag_id)))
        results.append({"dag_id": dag.dag_id, "run_id": dr.run_id, "state": str(state), "seconds": seconds,
                        "tasks": {k: (None if v is None else str(v)) for k, v in tis.items()},
                        "gold_token_events": events, "queued_dags": queued})
        print(f"[harness] {dag.dag_id} {dr.run_id}: {state} in {seconds:.0f}s", file=sys.stderr, flush=True)
    print("RESULT " + json.dumps(results))
"""
