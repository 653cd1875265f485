"""The ordered list of stages `codemill run` executes, and the runner.

Each entry names a module under jobs/ that defines STAGE and run(ctx). `codemill run`
runs every stage of this list that exists in this checkout, in this order; --until STAGE
stops after it.
"""
from __future__ import annotations

import importlib
import importlib.util

from jobs.stage import StageContext, execute_stage

PLANNED_STAGES = [
    "jobs.ingest",
    "jobs.select",
    "jobs.filter",
    "jobs.dedup",
    "jobs.pii",
    "jobs.decontaminate",
    "jobs.format",
    "jobs.tokenize",
]


def available_modules() -> list[str]:
    return [m for m in PLANNED_STAGES if importlib.util.find_spec(m) is not None]


def stage_names() -> list[str]:
    return [m.rsplit(".", 1)[1] for m in available_modules()]


def run_pipeline(ctx: StageContext, until: str | None = None, after_stage=None) -> dict:
    """Run every available stage in order; `after_stage(ctx, name, result)` runs after each
    one (the data-quality gate) and may raise to stop the pipeline."""
    if until and until not in stage_names():
        raise ValueError(f"unknown stage {until!r}; stages: {', '.join(stage_names())}")
    results = {}
    for module_name in available_modules():
        module = importlib.import_module(module_name)
        results[module.STAGE] = execute_stage(ctx, module.STAGE, module.run)
        if after_stage:
            after_stage(ctx, module.STAGE, results[module.STAGE])
        if module.STAGE == until:
            break
    return results
