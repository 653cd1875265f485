"""`codemill run`'s loop: every stage of the registry in order, each followed by its gate."""
from __future__ import annotations

from jobs.core.errors import UserError
from jobs.core.stage import StageContext, execute_stage


def run_pipeline(ctx: StageContext, until: str | None = None, after_stage=None) -> dict:
    """Run the registry's stages in order; `after_stage(ctx, stage, result)` runs after each
    (the data-quality gate) and may raise to stop the pipeline. Returns {name: result}."""
    names = [s.name for s in ctx.stages]
    if until and until not in names:
        raise UserError(f"unknown stage {until!r}; stages: {', '.join(names)}")
    results = {}
    for stage in ctx.stages:
        results[stage.name] = execute_stage(ctx, stage)
        if after_stage:
            after_stage(ctx, stage, results[stage.name])
        if stage.name == until:
            break
    return results
