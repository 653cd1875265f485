"""The registry: every pipeline stage, in the order `codemill run` runs them.

Each module declares one `Stage` (jobs/core/stage.py): its name, the tables it reads and
writes, its options and its run function. Everything that needs to know the stages reads
this tuple: `codemill run`, the `codemill <stage>` commands, `codemill check`, the curation
DAG's tasks, the gates and the run report and dataset card. Adding a stage is a new module
and one line here.

Importing this package starts no Spark and needs only pyspark's type classes (schemas/): the
stage modules import the rest of pyspark inside their functions, so the Airflow DAG files can
read the registry in Airflow's own environment.
"""
from __future__ import annotations

from dataclasses import replace

from jobs.core.stage import Stage
from jobs.stages import decontaminate, dedup, dedup_incremental, filter, format, ingest, pii, select, tokenize

STAGES: tuple[Stage, ...] = (
    ingest.STAGE,
    select.STAGE,
    filter.STAGE,
    # an incremental run matches its new files against the published survivors
    replace(dedup.STAGE, run_incremental=dedup_incremental.run),
    pii.STAGE,
    decontaminate.STAGE,
    format.STAGE,
    tokenize.STAGE,
)


def stage_names() -> list[str]:
    return [s.name for s in STAGES]


def get_stage(name: str) -> Stage:
    from jobs.core.errors import UserError
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise UserError(f"unknown stage {name!r}; stages: {', '.join(stage_names())}")
