"""Running one stage as a user does: the options every stage command shares, the context it
builds, and the stage run with its gate. `codemill <stage>` (jobs/cli.py) and
`spark-submit jobs/submit.py <stage>` both come here, so the two launch paths cannot drift.
"""
from __future__ import annotations

import argparse

from jobs.core.config import load_config
from jobs.core.lake import Lake, lake_root
from jobs.core.stage import Stage, StageContext, execute_stage, new_run_id

NEW_RUN_ID_HELP = "run id (default: a new one); re-using one replaces that run's output"


def add_lake_options(parser: argparse.ArgumentParser, run_id_help: str | None = NEW_RUN_ID_HELP) -> None:
    """--lake and --config, and --run-id unless run_id_help is None (commands that read a
    past run say which one they default to)."""
    parser.add_argument("--lake", help="lake folder or URI, e.g. s3a://bucket/lake (default: $CODEMILL_LAKE or ./lake); "
                                       "a remote lake's reports and Great Expectations files go to $CODEMILL_WORKSPACE "
                                       "(docs/cluster.md)")
    parser.add_argument("--config", help="YAML file merged over configs/pipeline.yaml")
    if run_id_help is not None:
        parser.add_argument("--run-id", help=run_id_help)


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    """--wait of a command that writes the lake (one writer per lake: jobs/core/lock.py)."""
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="when another codemill process is writing this lake, wait up to SECONDS for it "
                             "(default: refuse at once)")


def add_stage_options(parser: argparse.ArgumentParser, stage: Stage) -> None:
    add_lake_options(parser)
    add_wait_option(parser)
    parser.add_argument("--gate", action=argparse.BooleanOptionalAction, default=None,
                        help="run the stage's data-quality gate after it (default: quality.gate_after_each_stage)")
    add_incremental_option(parser)
    if stage.add_arguments:
        stage.add_arguments(parser)


def true_or_false(value: str) -> bool:
    """A flag's optional value: `--incremental` alone is true; `--incremental false` lets a
    scheduler that always passes the flag (the curation DAG's templated arguments) turn it off."""
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def add_incremental_option(parser: argparse.ArgumentParser, whole_run: bool = False) -> None:
    """--incremental of `codemill run` (whole_run) and of each stage command."""
    parser.add_argument("--incremental", nargs="?", const=True, default=False, type=true_or_false,
                        metavar="true|false", help=(
        "process only the input's files that are new or changed since the published bronze/files (a vanished "
        "file of an input repository is deleted), and merge each stage's result into its published output "
        "(docs/operations.md: weekly runs)" if whole_run else
        "process only this run's new and changed files and merge the result into the published output; the "
        "run (--run-id) must have started with an incremental ingest (docs/operations.md)"))


def make_context(args: argparse.Namespace, app_name: str, stages, overrides: dict | None = None,
                 nlp: bool | None = None) -> StageContext:
    """The config (checked before Spark starts, so a bad file fails fast), the session, the lake.
    nlp None: load Spark NLP's jars when a stage of `stages` needs them with this config."""
    from jobs.core.session import get_spark
    from jobs.core.storage import Location
    config = load_config(getattr(args, "config", None), overrides)
    if nlp is None:
        nlp = any(s.needs_spark_nlp(config) for s in stages)
    root = lake_root(getattr(args, "lake", None))
    inputs = [Location(x) for x in (getattr(args, "input", None),) if isinstance(x, str)]
    spark = get_spark(app_name, nlp=nlp, s3=any(loc.is_s3 for loc in [root, *inputs]))
    return StageContext(spark=spark, lake=Lake(spark, root), config=config,
                        run_id=getattr(args, "run_id", None) or new_run_id(), args=args, stages=tuple(stages))


def run_stage(stage: Stage, args: argparse.Namespace, stages) -> int:
    """One stage from the command line, then its gate (exit 1 when the gate fails). Only a
    passed gate publishes the stage's output (jobs/core/publish.py): with --no-gate the
    output stays invisible to readers until `codemill check <stage>` passes on it."""
    from jobs.core.lock import lake_lock
    with lake_lock(lake_root(getattr(args, "lake", None)), f"codemill {stage.name}", getattr(args, "wait", 0.0)):
        return _run_stage(stage, args, stages)


def _run_stage(stage: Stage, args: argparse.Namespace, stages) -> int:
    from quality_checks.gates import GateFailed, run_gate
    overrides = stage.config_overrides(args) if stage.config_overrides else None
    ctx = make_context(args, f"codemill-{stage.name}", [stage], overrides)
    ctx.stages = tuple(stages)
    gate = ctx.config.quality.gate_after_each_stage if args.gate is None else args.gate
    if gate:
        from quality_checks.context import preload_gx
        preload_gx()  # imported while the stage runs, not at its gate
    result = execute_stage(ctx, stage)
    print(f"{stage.name}: {result.rows_in} in, {result.rows_kept} kept, {result.rows_rejected} rejected "
          f"(run {ctx.run_id}, lake {ctx.lake.root})")
    if gate:
        try:
            report = run_gate(ctx.lake, ctx.config, stage, ctx.run_id, log=ctx.log)
        except GateFailed as err:
            print(f"FAIL {err}")
            return 1
        print(f"OK   {report.summary()}")
    else:
        from jobs.core.publish import still_seen
        print(f"not published (gate skipped): {still_seen(ctx.lake.root, stage.gated, ctx.lake.published_version)}; "
              f"`codemill check {stage.name} --run-id {ctx.run_id}` audits and publishes it")
    return 0
