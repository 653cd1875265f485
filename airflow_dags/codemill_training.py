"""codemill training: runs when the curation DAG publishes gold/tokens (only after every
quality gate passed), trains on exactly the Delta version in that asset event, and records
the lineage gold/tokens version -> checkpoint.

    resolve_gold_version -> train -> record_lineage  (emits Asset "codemill_checkpoint")

The training task is one command a person could run by hand:

    <repo>/.venv/bin/deepspeed --num_gpus N --master_port P <repo>/trainer/train.py \
        --config configs/train.yaml --set data.lake=L --set data.version=V \
        --set train.output_dir=OUT [--set KEY=VALUE ...]

Default (no Variables set): a CPU smoke run, tiny model, a few steps. On a GPU host set the
Variables codemill_train_num_gpus and codemill_train_overrides (docs/airflow.md).
A manual trigger (no asset event) trains on the `table_version` param, or else on the
version of the latest gold/tokens asset event.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Asset, Param, task

REPO = Path(os.environ.get("CODEMILL_REPO") or Path(__file__).resolve().parents[1])
VENV = Path(os.environ.get("CODEMILL_VENV") or REPO / ".venv")
if str(REPO) not in sys.path:  # codemill is not installed in Airflow's own environment
    sys.path.insert(0, str(REPO))

from jobs.core.config import load_config  # noqa: E402 - the typed config, no Spark
from jobs.core.storage import Location, workspace_for  # noqa: E402 - path/URI naming only

# Same name and URI as in codemill_curation.py.
GOLD_TOKENS = Asset(name="codemill_gold_tokens", uri="codemill://lake/gold/tokens")
CHECKPOINT = Asset(name="codemill_checkpoint", uri="codemill://runs/checkpoint")

# CPU smoke defaults (`--set` overrides of configs/train.yaml); replace them on a GPU host
# with the Variable codemill_train_overrides (a JSON list, [] = train.yaml as it is).
CPU_OVERRIDES = ["model=tiny", "deepspeed=zero2", "train.steps=4", "train.micro_batch=2", "train.grad_accum=1",
                 "train.save_every=4", "train.log_every=1", "train.eval_batches=2", "optim.warmup_steps=1"]


SETTINGS = load_config().airflow
PLAN = "ti.xcom_pull(task_ids='resolve_gold_version')"


@task(task_id="resolve_gold_version", inlets=[GOLD_TOKENS])
def resolve_gold_version(params: dict | None = None, triggering_asset_events=None, inlet_events=None,
                         run_id: str | None = None) -> dict:
    """Pick the gold/tokens version to train on and build the trainer command."""
    import json
    import shlex

    from airflow.sdk import Variable

    params = params or {}
    events = list(triggering_asset_events[GOLD_TOKENS]) if triggering_asset_events else []
    source = "triggering asset event"
    if events:
        extra = dict(events[-1].extra or {})
    elif params.get("table_version") is not None:
        lake = params.get("lake") or Variable.get("codemill_lake", default=None) or str(REPO / "lake")
        extra = {"lake": Location(lake).uri, "version": int(params["table_version"])}
        source = "table_version param"
    else:
        latest = list(inlet_events[GOLD_TOKENS]) if inlet_events else []
        if not latest:
            raise RuntimeError("no gold/tokens asset event yet: run codemill_curation first, "
                               "or trigger with {\"table_version\": N, \"lake\": \"...\"}")
        extra = dict(latest[-1].extra or {})
        source = "latest asset event"
    if extra.get("version") is None or not extra.get("lake"):
        raise RuntimeError(f"asset event without lake/version: {extra}")
    lake, version = extra["lake"], int(extra["version"])

    def pick(name: str, default):
        value = params.get(name)
        if value is None:
            value = Variable.get(f"codemill_train_{name}", default=None)
        return default if value is None else value

    overrides = pick("overrides", CPU_OVERRIDES)
    if isinstance(overrides, str):
        overrides = json.loads(overrides)
    # Checkpoints are local files: under the lake's workspace (the lake folder for a local lake,
    # $CODEMILL_WORKSPACE or ./codemill-workspace/... for a lake on an object store).
    output_root = pick("output_root", str(workspace_for(Location(lake)) / "runs"))
    out = str(Path(output_root).resolve() / f"train-gold-tokens-v{version}")
    command = [pick("launcher", str(VENV / "bin" / "deepspeed")),
               "--num_gpus", str(int(pick("num_gpus", 1))), "--master_port", str(int(pick("master_port", 29500))),
               str(REPO / "trainer" / "train.py"), "--config", str(pick("config", str(REPO / "configs" / "train.yaml")))]
    for item in [*map(str, overrides), f"data.lake={lake}", "data.table=gold/tokens", f"data.version={version}",
                 f"train.output_dir={out}"]:
        command += ["--set", item]
    plan = {"lake": lake, "table": "gold/tokens", "version": version, "output_dir": out,
            "command": shlex.join(command), "source": source, "curation": extra, "airflow_run_id": run_id}
    print(f"training on gold/tokens version {version} of {lake} ({source})\n{plan['command']}")
    return plan


@task(task_id="record_lineage", outlets=[CHECKPOINT])
def record_lineage(plan: dict, outlet_events=None, run_id: str | None = None) -> dict:
    """Check the trainer used the pinned version and record gold/tokens version -> checkpoint
    (<output_dir>/airflow_lineage.json and the codemill_checkpoint asset event)."""
    import json

    out = Path(plan["output_dir"])
    trainer = json.loads((out / "lineage.json").read_text())
    if trainer.get("table_version") != plan["version"]:
        raise RuntimeError(f"trainer read gold/tokens version {trainer.get('table_version')}, "
                           f"expected the pinned version {plan['version']}")
    lineage = {
        "gold_tokens": {"lake": plan["lake"], "table": plan["table"], "version": plan["version"]},
        "delta_versions": plan["curation"].get("versions", {"gold/tokens": plan["version"]}),
        "codemill_run_id": plan["curation"].get("codemill_run_id"),
        "curation_airflow_run_id": plan["curation"].get("airflow_run_id"),
        "training_airflow_run_id": run_id,
        "checkpoint": trainer.get("checkpoint"),
        "hf_model": str(out / "hf"),
        "trainer_lineage": str(out / "lineage.json"),
        "steps": trainer.get("steps"),
        "git_commit": trainer.get("git_commit"),
    }
    (out / "airflow_lineage.json").write_text(json.dumps(lineage, indent=1) + "\n")
    outlet_events[CHECKPOINT].extra = lineage
    print(f"gold/tokens v{plan['version']} -> {lineage['checkpoint']}")
    return lineage


with DAG(
    dag_id="codemill_training",
    description="Train on the gold/tokens Delta version published by codemill_curation",
    doc_md=__doc__,
    schedule=[GOLD_TOKENS],
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["codemill", "training"],
    params={
        "table_version": Param(None, type=["null", "integer"], description="manual runs: gold/tokens version to train on"),
        "lake": Param(None, type=["null", "string"], description="manual runs with table_version: the lake"),
        "num_gpus": Param(None, type=["null", "integer"], description="default: Variable codemill_train_num_gpus or 1"),
        "config": Param(None, type=["null", "string"], description="training YAML (default: Variable codemill_train_config or configs/train.yaml)"),
        "overrides": Param(None, type=["null", "array"], description="KEY=VALUE overrides (default: Variable codemill_train_overrides or the CPU smoke set)"),
        "output_root": Param(None, type=["null", "string"], description="default: Variable codemill_train_output_root or <lake workspace>/runs"),
    },
    default_args={
        "owner": "codemill",
        "retries": SETTINGS.retries,
        "retry_delay": dt.timedelta(minutes=SETTINGS.retry_delay_minutes),
        "execution_timeout": dt.timedelta(minutes=30),
    },
) as dag:
    plan = resolve_gold_version()
    train = BashOperator(
        task_id="train",
        bash_command=f"{{{{ {PLAN}['command'] }}}}",
        cwd=str(REPO),
        env={"PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"},
        append_env=True,
        # A retry resumes from the last checkpoint in the same output folder.
        execution_timeout=dt.timedelta(minutes=SETTINGS.train_timeout_minutes),
    )
    plan >> train >> record_lineage(plan)
