"""The stage contract: what a stage declares, what it is given, what it returns, and the
bookkeeping every stage shares (ops/runs, rejections, inputs by lineage).

A stage module declares ONE `Stage` (name, tables read and written, help, options) and the
registry (jobs/stages/__init__.py) lists them in pipeline order. From that list come the
`codemill <stage>` commands, `codemill run`, `codemill check`, the curation DAG's tasks, the
gates' inputs and the tables the report and card describe.

Inputs by lineage: a stage reads its input table at the version its producing stage wrote in
THIS run (ops/runs), or, run alone, at the table's published version (the newest one whose
gate passed, jobs/core/publish.py); a version whose gate failed or never ran is not read, and
a table no recorded run produced is an error naming the stage to run first. So neither a
stale table nor an unchecked one becomes this run's input unnoticed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from jobs.core.config import PipelineConfig
from jobs.core.errors import UserError
from jobs.core.logs import get_logger, set_run_id

if TYPE_CHECKING:  # the registry is read without Spark (the Airflow DAG files import it)
    from jobs.core.lake import Lake

log = get_logger(__name__)

REJECTIONS = "silver/rejections"


@dataclass(frozen=True)
class Stage:
    """One pipeline stage, as the registry knows it."""
    name: str
    inputs: tuple[str, ...]            # tables it reads; inputs[0] holds the rows it accounts for
    outputs: tuple[str, ...]           # tables it writes; outputs[0] holds the rows it keeps
    run: Callable[["StageContext"], "StageResult"]
    help: str                          # one line for `codemill --help`
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    # options of `codemill <stage>` that override config keys: args -> {section: {key: value}}
    config_overrides: Callable[[argparse.Namespace], dict] | None = None
    # run-level parameters the stage takes on the command line (the DAG passes them from its
    # plan): e.g. ("input",) for ingest's --input
    run_parameters: tuple[str, ...] = ()
    rejections: str = REJECTIONS       # where the rows it drops go (ingest: bronze/quarantine)
    needs_spark_nlp: Callable[[PipelineConfig], bool] = lambda config: False
    checked: tuple[str, ...] | None = None   # tables its gate validates (default: all outputs)
    # how it runs in an incremental run (jobs/core/incremental.py), when not `run` itself
    run_incremental: Callable[["StageContext"], "StageResult"] | None = None

    @property
    def primary(self) -> str:
        return self.outputs[0]

    @property
    def gated(self) -> tuple[str, ...]:
        return self.outputs if self.checked is None else self.checked


@dataclass
class StageContext:
    spark: object
    lake: "Lake"
    config: PipelineConfig
    run_id: str
    args: argparse.Namespace = field(default_factory=argparse.Namespace)
    stages: tuple = ()                 # the registry (for lineage: who produces a table)
    versions_read: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        set_run_id(self.run_id)

    def log(self, message: str, *args) -> None:
        """Progress of the running stage (INFO, run id in the line)."""
        log.info(message, *args)

    def read_input(self, name: str, columns: list[str] | None = None, whole: bool = False):
        """The DataFrame of input table `name` at the version lineage gives (see module
        docstring); the version is recorded as read by this stage. In an incremental run
        (jobs/core/incremental.py) only this run's rows, unless `whole`."""
        from jobs.core import incremental
        version = input_version(self, name)
        self.versions_read[name] = version
        df = self.lake.read(name, version)
        if incremental.active(self) and not whole and "run_id" in df.columns:
            df = incremental.run_rows(self, df)
        return df.select(*columns) if columns else df


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


# ---- lineage --------------------------------------------------------------------------------

def producer(stages, table: str) -> Stage | None:
    return next((s for s in stages if table in s.outputs), None)


def _succeeded_runs(lake: "Lake", stage: str) -> list[dict]:
    """The stage's succeeded runs, newest first: run_id and versions_written. Read with
    delta-rs on the driver (milliseconds; through Spark, the first read of a cold session
    cost 10-16 s of a spark-submit's fixed cost)."""
    from deltalake.exceptions import TableNotFoundError

    from jobs.core.delta_read import query, sql_literal
    try:
        rows = query(str(lake.root / "ops" / "runs"),
                     f"SELECT run_id, started_at, versions_written FROM t WHERE stage = {sql_literal(stage)} "
                     "AND status = 'succeeded'").to_pylist()
    except TableNotFoundError:
        return []
    rows.sort(key=lambda r: r["started_at"], reverse=True)
    return [{"run_id": r["run_id"], "versions_written": dict(r["versions_written"] or [])} for r in rows]


def stage_run_record(lake: "Lake", stage: str, run_id: str | None) -> dict | None:
    """The ops/runs row of (stage, run) as a dict, its map columns as dicts; None when there is
    none. Read with delta-rs, like _succeeded_runs: a gate needs it first thing, and a Spark
    read of ops/runs (Delta log replay plus a scan job) cost every gate 0.4 s warm, up to 8 s cold."""
    if run_id is None:
        return None
    from deltalake.exceptions import TableNotFoundError

    from jobs.core.delta_read import query, sql_literal
    try:
        table = query(str(lake.root / "ops" / "runs"),
                      f"SELECT * FROM t WHERE run_id = {sql_literal(run_id)} AND stage = {sql_literal(stage)}")
    except TableNotFoundError:
        return None
    if not table.num_rows:
        return None
    import pyarrow as pa
    maps = {f.name for f in table.schema if pa.types.is_map(f.type)}
    row = table.slice(0, 1).to_pylist()[0]
    return {k: (dict(v) if k in maps and v is not None else v) for k, v in row.items()}


def _gate_failed(lake: "Lake", run_id: str, stage: str) -> bool:
    """Whether the newest gate evaluation of (run, stage) in ops/dq_results has a failure."""
    from jobs.core.publish import gate_failed
    return gate_failed(lake.root, run_id, stage)


def input_version(ctx: StageContext, table: str) -> int:
    """The version of `table` this stage reads (write-audit-publish, jobs/core/publish.py):
    what its producer wrote in this run (the run's own chain: in a gated run the producer's
    gate passed before this stage starts), else the table's published version. A version
    whose gate failed is never read; a table with no published version is a UserError that
    says which stage or gate to run."""
    from jobs.core.publish import still_seen
    maker = producer(ctx.stages, table)
    if maker is None:
        raise UserError(f"no stage of the registry writes {table}")
    runs = _succeeded_runs(ctx.lake, maker.name)
    for record in runs:
        version = (record["versions_written"] or {}).get(table)
        if record["run_id"] == ctx.run_id and version is not None:
            if _gate_failed(ctx.lake, ctx.run_id, maker.name):
                raise UserError(f"{table} version {version}, written by {maker.name} in this run, failed its gate "
                                f"and is not published; {still_seen(ctx.lake.root, [table], ctx.lake.published_version)}")
            return int(version)
    published = ctx.lake.published_version(table)
    if published is not None:
        log.info("reading %s v%s, its published version (%s did not run in this run)", table, published, maker.name)
        return published
    unaudited = next((r for r in runs if (r["versions_written"] or {}).get(table) is not None), None)
    if unaudited is not None:
        raise UserError(f"{table} has no published version in {ctx.lake.root}: version "
                        f"{unaudited['versions_written'][table]} (run {unaudited['run_id']}) has not passed its gate; "
                        f"run `codemill check {maker.name} --run-id {unaudited['run_id']}` to audit and publish it")
    raise UserError(f"{table} has not been written by a successful {maker.name} run in {ctx.lake.root}: "
                    f"run `codemill {maker.name}` (or `codemill run`) first")


def adopt_tables(ctx: StageContext, stage: Stage, names: tuple[str, ...] | None = None) -> dict[str, int]:
    """Record the current versions of `stage`'s output tables (or `names`) as written by that
    stage in this run, for tables written outside a stage run (data imported into the lake,
    a table repaired by hand, test fixtures), so that later stages read them by lineage.
    Returns {table: version}."""
    versions = {name: ctx.lake.version(name) for name in (names or stage.outputs) if ctx.lake.exists(name)}
    result = StageResult(rows_in=0, rows_kept=0, versions_written=versions, metrics={"adopted": "true"})
    record_run(ctx, stage.name, now_utc(), 0.0, result, "succeeded")
    return versions


# ---- bookkeeping ----------------------------------------------------------------------------

def count_by_reason(rejected_df) -> dict[str, int]:
    return {r["reason"]: r["n"] for r in rejected_df.groupBy("reason").count().withColumnRenamed("count", "n").collect()}


def write_rejections(ctx: StageContext, stage: str, rejected_df) -> int:
    """Replace this stage's rejections for this run with `rejected_df` (file_id, repo_name,
    path, reason, detail and optionally size_bytes and language); stage, run and time are
    added here. Returns the version written."""
    from pyspark.sql import functions as F

    df = (rejected_df.withColumn("stage", F.lit(stage))
          .withColumn("run_id", F.lit(ctx.run_id))
          .withColumn("rejected_at", F.lit(now_utc())))
    return ctx.lake.replace_where(df, REJECTIONS, f"stage = '{stage}' AND run_id = '{ctx.run_id}'")


def keep_or_reject(ctx: StageContext, stage: Stage, annotated, group_by: dict | None = None,
                   figures: Callable[[list], dict] | None = None) -> StageResult:
    """The bookkeeping of a stage that keeps or drops each row of one file table (select,
    filter, decontaminate), as datatrove's filter step does around a filter: `annotated` is
    the input with `reason` and `detail` columns (reason null = kept). Writes the kept rows to
    the stage's primary output and the others to silver/rejections, and counts rows and
    bytes in, kept and by reason in ONE aggregate query, grouped by reason and by the
    stage's own `group_by` columns ({name: Column}); `figures(rows)` turns those grouped rows
    (reason, <group_by names>, n, b) into the stage's metrics. The stage supplies only the
    per-row decision."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from jobs.core import incremental
    group_by = group_by or {}
    annotated = annotated.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        kept_cond = F.col("reason").isNull()
        rejected = annotated.filter(~kept_cond).select(
            "file_id", "repo_name", "path", "reason", "detail", "size_bytes",
            *(["language"] if "language" in annotated.columns else []))
        kept = annotated.filter(kept_cond)
        # an incremental run replaces its files' rows; a full run replaces the table
        written = (incremental.replace_slice(ctx, stage.primary, kept) if incremental.active(ctx)
                   else ctx.lake.overwrite(kept, stage.primary))
        versions = {stage.primary: written,
                    REJECTIONS: write_rejections(ctx, stage.name, rejected)}
        rows = (annotated.groupBy("reason", *[expr.alias(name) for name, expr in group_by.items()])
                .agg(F.count(F.lit(1)).alias("n"), F.sum("size_bytes").alias("b")).collect())
    finally:
        annotated.unpersist()
    by_reason: dict[str, int] = {}
    for r in rows:
        if r["reason"] is not None:
            by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + int(r["n"])
    kept = [r for r in rows if r["reason"] is None]
    return StageResult(rows_in=sum(int(r["n"]) for r in rows), rows_kept=sum(int(r["n"]) for r in kept),
                       rejected_by_reason=by_reason, bytes_in=sum(int(r["b"] or 0) for r in rows),
                       bytes_kept=sum(int(r["b"] or 0) for r in kept), versions_written=versions,
                       metrics=figures(rows) if figures else {})


def record_run(ctx: StageContext, stage: str, started: dt.datetime, seconds: float,
               result: StageResult | None, status: str) -> None:
    """The (run, stage) row of ops/runs; a re-run of the stage in the same run replaces it."""
    from schemas import table as table_def
    row = {
        "run_id": ctx.run_id, "stage": stage, "status": status, "started_at": started,
        "seconds": float(seconds),
        "rows_in": result.rows_in if result else None,
        "rows_kept": result.rows_kept if result else None,
        "rows_rejected": result.rows_rejected if result else None,
        "rejected_by_reason": result.rejected_by_reason if result else {},
        "bytes_in": result.bytes_in if result else None,
        "bytes_kept": result.bytes_kept if result else None,
        "versions_read": (result.versions_read if result else {}) or dict(ctx.versions_read),
        "versions_written": result.versions_written if result else {},
        "metrics": {k: str(v) for k, v in (result.metrics if result else {}).items()},
    }
    df = ctx.spark.createDataFrame([row], table_def("ops/runs").schema)
    ctx.lake.replace_where(df, "ops/runs", f"run_id = '{ctx.run_id}' AND stage = '{stage}'")


def execute_stage(ctx: StageContext, stage: Stage) -> StageResult:
    """Run one stage, time it, and record it in ops/runs (also when it fails)."""
    started, t0 = now_utc(), time.perf_counter()
    ctx.versions_read = {}
    ctx.log(f"{stage.name}: started")
    try:
        from jobs.core import incremental
        is_incremental = incremental.active(ctx)
        result = (stage.run_incremental if is_incremental and stage.run_incremental else stage.run)(ctx)
        result.versions_read = {**ctx.versions_read, **result.versions_read}
        if is_incremental:
            incremental.record(result)
    except Exception:
        record_run(ctx, stage.name, started, time.perf_counter() - t0, None, "failed")
        raise
    seconds = time.perf_counter() - t0
    record_run(ctx, stage.name, started, seconds, result, "succeeded")
    reasons = ", ".join(f"{k}={v}" for k, v in sorted(result.rejected_by_reason.items())) or "none"
    ctx.log(f"{stage.name}: {result.rows_in} in, {result.rows_kept} kept, {result.rows_rejected} rejected "
            f"({reasons}) in {seconds:.1f}s")
    return result
