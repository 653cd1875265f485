"""What every stage shares: its context, its result, rejections, the ops/runs record,
and the `spark-submit jobs/<stage>.py --lake DIR [--config FILE] [--run-id ID]` entry point.

A stage module defines `STAGE` (its name), `run(ctx) -> StageResult` and optionally
`add_arguments(parser)`; it ends with `if __name__ == "__main__": stage_main(...)`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

# spark-submit runs jobs/<stage>.py as a script: make the project importable without an install.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from jobs.config import ConfigError, load_config  # noqa: E402
from jobs.lake import Lake, lake_root  # noqa: E402


class UserError(Exception):
    """A problem the user can fix (bad path, bad option): one line, exit code 2."""


@dataclass
class StageContext:
    spark: object
    lake: Lake
    config: dict
    run_id: str
    args: argparse.Namespace = field(default_factory=argparse.Namespace)

    def log(self, message: str) -> None:
        print(f"[codemill {self.run_id}] {message}", file=sys.stderr, flush=True)


@dataclass
class StageResult:
    rows_in: int
    rows_kept: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    bytes_in: int | None = None
    bytes_kept: int | None = None
    versions_read: dict[str, int] = field(default_factory=dict)
    versions_written: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected_by_reason.values())


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def count_by_reason(rejected_df) -> dict[str, int]:
    return {r["reason"]: r["n"] for r in rejected_df.groupBy("reason").count().withColumnRenamed("count", "n").collect()}


def write_rejections(ctx: StageContext, stage: str, rejected_df) -> int:
    """Replace this stage's rejections for this run with `rejected_df`.

    `rejected_df` has file_id, repo_name, path, reason, detail and optionally size_bytes
    and language; the stage, run and time are added here.
    """
    from pyspark.sql import functions as F

    df = rejected_df
    for optional in ("size_bytes", "language", "detail"):
        if optional not in df.columns:
            df = df.withColumn(optional, F.lit(None))
    df = (df.withColumn("stage", F.lit(stage))
            .withColumn("run_id", F.lit(ctx.run_id))
            .withColumn("rejected_at", F.lit(now_utc())))
    return ctx.lake.replace_where(df, "silver/rejections", f"stage = '{stage}' AND run_id = '{ctx.run_id}'")


def record_run(ctx: StageContext, stage: str, started: dt.datetime, seconds: float,
               result: StageResult | None, status: str) -> None:
    row = {
        "run_id": ctx.run_id, "stage": stage, "status": status, "started_at": started,
        "seconds": float(seconds),
        "rows_in": result.rows_in if result else None,
        "rows_kept": result.rows_kept if result else None,
        "rows_rejected": result.rows_rejected if result else None,
        "rejected_by_reason": result.rejected_by_reason if result else {},
        "bytes_in": result.bytes_in if result else None,
        "bytes_kept": result.bytes_kept if result else None,
        "versions_read": result.versions_read if result else {},
        "versions_written": result.versions_written if result else {},
        "metrics": {k: str(v) for k, v in (result.metrics if result else {}).items()},
    }
    from schemas import table as table_def
    df = ctx.spark.createDataFrame([row], table_def("ops/runs").schema)
    # One row per (run, stage): a re-run of the stage for the same run replaces its record.
    ctx.lake.replace_where(df, "ops/runs", f"run_id = '{ctx.run_id}' AND stage = '{stage}'")


def execute_stage(ctx: StageContext, stage: str, run_fn) -> StageResult:
    """Run one stage, time it, and record it in ops/runs (also when it fails)."""
    started, t0 = now_utc(), time.perf_counter()
    ctx.log(f"{stage}: started")
    try:
        result = run_fn(ctx)
    except Exception:
        record_run(ctx, stage, started, time.perf_counter() - t0, None, "failed")
        raise
    seconds = time.perf_counter() - t0
    record_run(ctx, stage, started, seconds, result, "succeeded")
    reasons = ", ".join(f"{k}={v}" for k, v in sorted(result.rejected_by_reason.items())) or "none"
    ctx.log(f"{stage}: {result.rows_in} in, {result.rows_kept} kept, {result.rows_rejected} rejected "
            f"({reasons}) in {seconds:.1f}s")
    return result


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lake", help="lake folder (default: $CODEMILL_LAKE or ./lake)")
    parser.add_argument("--config", help="YAML file merged over configs/pipeline.yaml")
    parser.add_argument("--run-id", help="run id (default: a new one); re-using one replaces that run's output")
    return parser


def make_context(args: argparse.Namespace, app_name: str) -> StageContext:
    config = load_config(args.config)  # before Spark starts: a bad config fails fast
    from jobs.session import get_spark
    spark = get_spark(app_name)
    return StageContext(spark=spark, lake=Lake(spark, lake_root(args.lake)), config=config,
                        run_id=args.run_id or new_run_id(), args=args)


def fail(message: str, code: int = 2) -> int:
    print(f"codemill: error: {message}", file=sys.stderr)
    return code


def stage_main(stage: str, run_fn, add_arguments=None, description: str | None = None,
               argv: list[str] | None = None) -> int:
    parser = base_parser(description or f"codemill {stage} stage")
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        ctx = make_context(args, f"codemill-{stage}")
        execute_stage(ctx, stage, run_fn)
    except (UserError, ConfigError) as err:
        return fail(str(err))
    return 0


def upstream(ctx: StageContext, candidates: list[str]) -> str:
    """The first existing table of `candidates` (a stage's input when optional stages before it
    have not run or do not exist in this checkout)."""
    for name in candidates:
        if ctx.lake.exists(name):
            return name
    raise UserError(f"none of the input tables exist yet in {ctx.lake.root}: {', '.join(candidates)} "
                    f"(run the earlier stages first)")
