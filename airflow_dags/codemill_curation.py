"""codemill curation: one spark-submit per stage of the registry, a data-quality gate after
each, and the gold/tokens table handed to training as an Airflow asset event carrying its
Delta version.

    preflight -> ingest -> gate_ingest -> select -> gate_select -> ... -> tokenize -> gate_tokenize
              -> publish_gold_tokens  (emits Asset "codemill_gold_tokens", extra = Delta versions)

The stages and their order come from codemill's registry (jobs/stages/), and the schedule,
retries and timeouts from the `airflow:` section of the typed config (jobs/core/config.py):
this file only wires tasks. Every task is a command a person could run by hand (the rendered
command is in the task's "Rendered Template" tab):

    <repo>/.venv/bin/spark-submit --master <spark_default> <repo>/jobs/submit.py <stage> --no-gate \
        --lake L --run-id R --config C --incremental false|true
    <repo>/.venv/bin/codemill check <stage> --lake L --run-id R --config C    (publishes on pass)

Reading the registry imports no Spark session machinery (only codemill's config and stage
declarations); the stages run in the main venv (<repo>/.venv) through its spark-submit, while
Airflow lives in .venv-airflow. Set-up, connection, variables and parameters: docs/airflow.md.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Asset, Param, task

# ---- paths (resolved when the file is parsed; no Airflow DB access at parse time) ----------
REPO = Path(os.environ.get("CODEMILL_REPO") or Path(__file__).resolve().parents[1])
VENV = Path(os.environ.get("CODEMILL_VENV") or REPO / ".venv")
if str(REPO) not in sys.path:  # codemill is not installed in Airflow's own environment
    sys.path.insert(0, str(REPO))

from jobs.core.config import load_config  # noqa: E402 - the registry and config, no Spark
from jobs.core.storage import Location  # noqa: E402 - path/URI naming only, no filesystem client
from jobs.stages import STAGES  # noqa: E402

# The asset the training DAG is scheduled on (same name and URI in codemill_training.py).
GOLD_TOKENS = Asset(name="codemill_gold_tokens", uri="codemill://lake/gold/tokens")
SETTINGS = load_config().airflow

# Rendered at run time from the preflight task's result.
PLAN = "ti.xcom_pull(task_ids='preflight')"
LAKE, RUN_ID, CONFIG = (f"{{{{ {PLAN}['{k}'] }}}}" for k in ("lake", "run_id", "config"))
RUN_ARGS = ["--lake", LAKE, "--run-id", RUN_ID, "--config", CONFIG]

# Environment of every spark-submit and gate: the main venv's interpreter for the driver, and
# for the executors' Python workers unless the run names another (a cluster node's Python).
STAGE_ENV = {
    "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
    "PYSPARK_PYTHON": f"{{{{ {PLAN}['executor_python'] }}}}",
    "PYSPARK_DRIVER_PYTHON": str(VENV / "bin" / "python"),
    "CODEMILL_DRIVER_MEMORY": f"{{{{ {PLAN}['driver_memory'] }}}}",
}


def stage_args(stage) -> list[str]:
    """The spark-submit arguments of one stage: its name, the run's lake/run id/config, the
    run-level parameters it declares (ingest: --input), and --no-gate (the gate is its own task)."""
    extra = [arg for name in stage.run_parameters for arg in (f"--{name}", f"{{{{ {PLAN}['{name}'] }}}}")]
    return [stage.name, "--no-gate"] + RUN_ARGS + extra + ["--incremental", f"{{{{ {PLAN}['incremental'] }}}}"]


@task(task_id="preflight")
def preflight(params: dict | None = None, run_id: str | None = None) -> dict:
    """Resolve lake / input / config / run id (trigger conf > Airflow Variable > default) and
    fail fast, with one clear message, on a missing input or an unprepared main venv."""
    import re

    from airflow.sdk import Variable

    params = params or {}

    def pick(name: str, default: str) -> str:
        return str(params.get(name) or Variable.get(f"codemill_{name}", default=None) or default)

    # The lake and the input may be URIs (s3a://, hdfs://, ...): local paths are made absolute,
    # URIs kept as they are (jobs/core/storage.Location, which also refuses credentials in one).
    lake, source = Location(pick("lake", str(REPO / "lake"))), Location(pick("input", str(REPO / "tests" / "data" / "sample_corpus")))
    plan = {
        "lake": lake.uri,
        "input": source.uri,
        "config": str(Path(pick("config", str(REPO / "configs" / "pipeline.yaml"))).resolve()),
        "driver_memory": pick("driver_memory", SETTINGS.driver_memory),
        # On a cluster without codemill installed: the project zip (`codemill package`), the
        # jars (`codemill jars --s3` for an S3 lake) and the Python the executors start.
        "py_files": pick("py_files", ""),
        "jars": pick("jars", ""),
        "executor_python": pick("executor_python", str(VENV / "bin" / "python")),
        # Airflow run ids hold ':' and '+': keep codemill's run id to [A-Za-z0-9_.-].
        "run_id": re.sub(r"[^A-Za-z0-9_.-]+", "-", params.get("run_id") or run_id or "").strip("-"),
        "docs": bool(params.get("data_docs", True)),
        "incremental": "true" if params.get("incremental") else "false",
    }
    local_input = [("input", plan["input"])] if source.is_local else []  # a URI is listed by ingest itself
    problems = [f"{what} not found: {path}" for what, path in (
        *local_input, ("pipeline config", plan["config"]),
        ("spark-submit of the main venv", str(VENV / "bin" / "spark-submit")),
        ("codemill CLI of the main venv", str(VENV / "bin" / "codemill"))) if not Path(path).exists()]
    import glob
    if not glob.glob(str(VENV / "lib" / "python*" / "site-packages" / "pyspark" / "conf" / "spark-defaults.conf")):
        problems.append("spark-defaults.conf missing in the main venv's pyspark: run `.venv/bin/codemill setup` "
                        "so spark-submit loads Delta Lake and Spark NLP")
    if not plan["run_id"]:
        problems.append("no run id")
    if problems:
        raise RuntimeError("; ".join(problems))
    if lake.is_local:
        lake.local.mkdir(parents=True, exist_ok=True)
    print(f"codemill run {plan['run_id']}: lake {plan['lake']}, input {plan['input']}, config {plan['config']}")
    return plan


@task(task_id="publish_gold_tokens", outlets=[GOLD_TOKENS])
def publish_gold_tokens(plan: dict, outlet_events=None, run_id: str | None = None) -> dict:
    """Emit the gold/tokens asset event with the published Delta versions (ops/published,
    written by the gate tasks that passed: docs/operations.md), read with the main venv's
    codemill, as a person would. Runs only when every gate passed."""
    import json
    import subprocess

    tables = ("gold/tokens", "gold/training_docs", "gold/files")
    read_versions = ("import json, sys\nsys.path.insert(0, sys.argv[1])\n"
                     "from jobs.core.publish import published_version\n"
                     "lake, names = sys.argv[2], sys.argv[3:]\n"
                     "print(json.dumps({n: v for n in names "
                     "if (v := published_version(lake, n)) is not None}))")
    out = subprocess.run([str(VENV / "bin" / "python"), "-c", read_versions, str(REPO), plan["lake"], *tables],
                         capture_output=True, text=True, check=True)
    versions = json.loads(out.stdout.strip().splitlines()[-1])
    if "gold/tokens" not in versions:
        raise RuntimeError(f"gold/tokens has no published version under {plan['lake']} (gate_tokenize did not pass)")
    extra = {
        "lake": plan["lake"],
        "table": "gold/tokens",
        "table_path": f"{plan['lake']}/gold/tokens",
        "version": versions["gold/tokens"],
        "versions": versions,
        "codemill_run_id": plan["run_id"],
        "config": plan["config"],
        "airflow_run_id": run_id,
    }
    outlet_events[GOLD_TOKENS].extra = extra
    print(f"gold/tokens version {extra['version']} published ({json.dumps(versions)})")
    return extra


with DAG(
    dag_id="codemill_curation",
    description="The Stack / StarCoder curation on Spark + Delta with a quality gate after every stage",
    doc_md=__doc__,
    schedule=SETTINGS.schedule,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,  # stages overwrite lake tables: two runs must not interleave
    tags=["codemill", "curation"],
    params={
        "lake": Param(None, type=["null", "string"], description="lake folder (default: Variable codemill_lake or <repo>/lake)"),
        "input": Param(None, type=["null", "string"], description="ingest input (default: Variable codemill_input or the sample corpus)"),
        "config": Param(None, type=["null", "string"], description="YAML merged over configs/pipeline.yaml (default: Variable codemill_config)"),
        "driver_memory": Param(None, type=["null", "string"], description="Spark driver memory (default: Variable codemill_driver_memory or airflow.driver_memory)"),
        "run_id": Param(None, type=["null", "string"], description="codemill run id (default: the Airflow run id, sanitized)"),
        "data_docs": Param(True, type="boolean", description="rebuild Great Expectations Data Docs at every gate"),
        "py_files": Param(None, type=["null", "string"], description="--py-files of every stage: the project zip "
                          "from `codemill package`, for a cluster without codemill installed (default: Variable codemill_py_files)"),
        "jars": Param(None, type=["null", "string"], description="--jars of every stage, comma-separated, e.g. "
                      "`codemill jars --s3` for a lake on S3 (default: Variable codemill_jars)"),
        "executor_python": Param(None, type=["null", "string"], description="the Python the executors start "
                                 "(PYSPARK_PYTHON; default: Variable codemill_executor_python or the main venv's)"),
        "incremental": Param(False, type="boolean", description="process only new and changed files of the input "
                             "and merge them into the published tables (docs/operations.md: a weekly run)"),
    },
    default_args={
        "owner": "codemill",
        "retries": SETTINGS.retries,
        "retry_delay": dt.timedelta(minutes=SETTINGS.retry_delay_minutes),
        "execution_timeout": dt.timedelta(minutes=SETTINGS.stage_timeout_minutes),
    },
) as dag:
    plan = preflight()
    previous = plan
    for stage in STAGES:
        run_stage = SparkSubmitOperator(
            task_id=stage.name,
            application=str(REPO / "jobs" / "submit.py"),
            application_args=stage_args(stage),
            conn_id=SETTINGS.spark_conn_id,
            name=f"codemill-{stage.name}",
            conf={"spark.driver.memory": f"{{{{ {PLAN}['driver_memory'] }}}}"},
            py_files=f"{{{{ {PLAN}['py_files'] }}}}",
            jars=f"{{{{ {PLAN}['jars'] }}}}",
            env_vars=STAGE_ENV,
        )
        gate = BashOperator(
            task_id=f"gate_{stage.name}",
            bash_command=(f"{VENV / 'bin' / 'codemill'} check {stage.name} " + " ".join(RUN_ARGS)
                          + f"{{{{ '' if {PLAN}['docs'] else ' --no-docs' }}}}"),
            env=STAGE_ENV,
            append_env=True,
            cwd=str(REPO),
            # A failed gate is a finding about the data, not a glitch: retrying cannot fix it.
            retries=0,
            execution_timeout=dt.timedelta(minutes=SETTINGS.gate_timeout_minutes),
        )
        previous >> run_stage >> gate
        previous = gate
    previous >> publish_gold_tokens(plan)
