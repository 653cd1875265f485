"""Data-quality gates: run the suites of a stage's output tables, record one row per
expectation in ops/dq_results, build Data Docs, and fail with a message that names the
table, the expectation, the number of failing rows and a few failing ids.

    from quality_checks.gates import run_gate
    report = run_gate(lake, config, "dedup", run_id)   # a stage name or the registry's Stage;
                                                        # raises GateFailed on failure

Each table is validated by two GX checkpoints (suites and checkpoints defined in code):
`gate.<table>` runs the native expectations on the table's Spark DataFrame, and
`gate.<table>.aggregates` runs one expectation per aggregate check (checks.py) on a
one-row pandas frame of failing-row counts computed by Spark.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from jobs.core.errors import UserError
from jobs.core.stage import now_utc, stage_run_record
from quality_checks import checks as agg
from quality_checks import suites
from quality_checks.base import Env
from quality_checks.context import batch_definition, build_docs, get_context, gx_name


class GateFailed(UserError):
    """A data-quality gate failed (the message names table, expectation, failing rows, ids)."""


@dataclass
class ResultRow:
    table_name: str
    expectation: str
    success: bool
    unexpected_count: int | None
    sample_ids: list[str]
    detail: str
    table_version: int | None

    @property
    def skipped(self) -> bool:
        return self.detail.startswith("skipped:")


@dataclass
class GateReport:
    stage: str
    run_id: str | None
    rows: list[ResultRow] = field(default_factory=list)
    seconds: float = 0.0
    docs_index: str | None = None
    # where the time went: native expectations (GX on Spark), aggregate checks, recording, Data Docs
    phase_seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str):
        """Add the time spent inside the block to phase `name`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phase_seconds[name] = self.phase_seconds.get(name, 0.0) + time.perf_counter() - started

    @property
    def failures(self) -> list[ResultRow]:
        return [r for r in self.rows if not r.success]

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        skipped = sum(r.skipped for r in self.rows)
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in self.phase_seconds.items())
        return (f"gate {self.stage} (run {self.run_id}): {len(self.rows)} expectations, "
                f"{len(self.failures)} failed, {skipped} skipped, {self.seconds:.1f}s"
                + (f" ({phases})" if phases else ""))

    def message(self) -> str:
        lines = [f"data-quality gate failed after stage {self.stage} (run {self.run_id}):"]
        for r in self.failures:
            count = "?" if r.unexpected_count is None else r.unexpected_count
            ids = f"; e.g. {', '.join(r.sample_ids)}" if r.sample_ids else ""
            lines.append(f"  {r.table_name}: {r.expectation}: {count} failing rows{ids} ({r.detail})")
        return "\n".join(lines)


def latest_run_id(lake, stage: str) -> str | None:
    if not lake.exists("ops/runs"):
        return None
    rows = (lake.read("ops/runs").where(f"stage = '{stage}'")
            .orderBy("started_at", ascending=False).select("run_id").limit(1).collect())
    return rows[0]["run_id"] if rows else None


def _short(value, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _native_row(result, table_name: str, id_col: str, version: int | None) -> ResultRow:
    cfg = result.expectation_config
    kw = cfg.kwargs
    target = kw.get("column") or (f"{kw['column_A']}>{kw['column_B']}" if "column_A" in kw else None)
    if target is None and kw.get("column_list"):
        target = ",".join(kw["column_list"])
    name = f"{cfg.type}({target})" if target else cfg.type
    res = result.result or {}
    unexpected = res.get("unexpected_count")
    samples: list[str] = []
    for entry in res.get("partial_unexpected_index_list") or []:
        if isinstance(entry, dict) and entry.get(id_col) is not None:
            samples.append(str(entry[id_col]))
    if not samples and kw.get("column") == id_col:
        samples = [str(v) for v in res.get("partial_unexpected_list") or [] if v is not None]
    samples = list(dict.fromkeys(samples))
    if result.exception_info and result.exception_info.get("raised_exception"):
        detail = "error: " + _short(result.exception_info.get("exception_message") or "exception")
    elif "observed_value" in res:
        detail = f"observed {_short(res['observed_value'])}"
        if cfg.type == "expect_table_columns_to_match_set" and not result.success:
            expected, observed = set(kw.get("column_set") or []), set(res["observed_value"] or [])
            detail = f"missing {sorted(expected - observed)}, unexpected {sorted(observed - expected)}"
    elif unexpected is not None:
        detail = f"{unexpected} of {res.get('element_count')} rows unexpected"
    else:
        detail = ""
    return ResultRow(table_name, name, bool(result.success), unexpected, samples, detail, version)


MAP_PREFIXES = ("expect_column_values_", "expect_compound_columns_", "expect_column_pair_values_",
                "expect_select_column_values_", "expect_multicolumn_")


def _config_key(cfg) -> tuple[str, str]:
    ignored = ("result_format", "batch_id", "catch_exceptions", "include_config")
    kwargs = {k: v for k, v in dict(cfg.kwargs).items() if k not in ignored and v is not None}
    return cfg.type, json.dumps(kwargs, sort_keys=True, default=str)


def _run_suite(context, name: str, table_name: str, expectations: list, df, result_format: dict):
    import great_expectations as gx

    # Expectations go in through the constructor: suite.add_expectation on a suite whose name
    # is already stored writes the whole suite to the store once per expectation (measured
    # 1.4 s for 33 expectations); add_or_update then stores it once.
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=list(expectations)))
    vd = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch_definition(context, gx_name(table_name), "spark"), suite=suite))
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(name=f"gate.{name}", validation_definitions=[vd], result_format=result_format))
    run = checkpoint.run(batch_parameters={"dataframe": df})
    return [r for validation in run.run_results.values() for r in validation.results]


def _validate_native(context, table_name: str, df, config: dict, sample_n: int, version) -> list[ResultRow]:
    """Two passes: every expectation with result_format BOOLEAN_ONLY (GX bundles the aggregate
    metrics into a few Spark jobs and fetches no samples), then only the failed ones again with
    SUMMARY and file_id as index column, for the failing-row counts and sample ids."""
    name = gx_name(table_name)
    id_col = suites.id_column(table_name)
    expectations = suites.table_expectations(table_name, config)
    first = _run_suite(context, name, table_name, expectations, df, {"result_format": "BOOLEAN_ONLY"})
    rows, failed_keys = [], set()
    for result in first:  # GX groups results by column: match them by configuration, not position
        if result.success:
            cfg = result.expectation_config
            count = 0 if cfg.type.startswith(MAP_PREFIXES) else None
            row = _native_row(result, table_name, id_col, version)
            row.unexpected_count, row.detail = count, row.detail or "passed"
            rows.append(row)
        else:
            failed_keys.add(_config_key(result.expectation_config))
    if failed_keys:
        # Fresh expectation objects: GX ties an expectation to the suite it was added to.
        failed = [e for e in suites.table_expectations(table_name, config)
                  if _config_key(e.configuration) in failed_keys]
        result_format = {"result_format": "SUMMARY", "partial_unexpected_count": sample_n}
        if id_col in df.columns:
            result_format["unexpected_index_column_names"] = [id_col]
        second = _run_suite(context, gx_name(table_name, "failed"), table_name, failed, df, result_format)
        rows += [_native_row(r, table_name, id_col, version) for r in second]
    return rows


def evaluate_aggregates(env: Env, pool: ThreadPoolExecutor) -> Callable[[], dict]:
    """Start the table's aggregate checks (Spark queries only, no GX) on `pool` (two threads)
    and return a function that waits for them: {name: (check, outcome)} in declared order.
    The content scans start first, each in a thread of its own: they are the long pole (a
    pandas UDF over the content), and the other checks' small queries run alongside them."""
    checks = agg.aggregate_checks(env.table_name, env.stage)
    scans = {c.name: pool.submit(c.fn, env) for c in checks if c.scans_content}
    others = [c for c in checks if not c.scans_content]
    rest = pool.submit(lambda: {c.name: c.fn(env) for c in others})

    def wait() -> dict:
        done = {**rest.result(), **{name: f.result() for name, f in scans.items()}}
        return {c.name: (c, done[c.name]) for c in checks}
    return wait


def _validate_aggregates(context, table_name: str, outcomes: dict, version) -> list[ResultRow]:
    """Record the aggregate checks' outcomes through a GX suite on a one-row frame."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd

    rows = [ResultRow(table_name, name, True, None, [], out.detail, version)
            for name, (_c, out) in outcomes.items() if out.failing is None]
    active = {name: (c, out) for name, (c, out) in outcomes.items() if out.failing is not None}
    if not active:
        return rows
    name = gx_name(table_name, "aggregates")
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=[
        gxe.ExpectColumnMaxToBeBetween(column=check_name, min_value=0, max_value=0, meta={"check": check.description})
        for check_name, (check, _out) in active.items()]))
    vd = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch_definition(context, name, "pandas"), suite=suite))
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(name=f"gate.{name}", validation_definitions=[vd], result_format={"result_format": "SUMMARY"}))
    frame = pd.DataFrame([{check_name: int(out.failing) for check_name, (_c, out) in active.items()}])
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    for validation in run.run_results.values():
        for r in validation.results:
            check_name = r.expectation_config.kwargs["column"]
            out = active[check_name][1]
            rows.append(ResultRow(table_name, check_name, bool(r.success), int(out.failing),
                                  out.samples, out.detail, version))
    return rows


def write_results(lake, spark, report: GateReport) -> None:
    from schemas import table as table_def

    checked_at = now_utc()
    run_id = report.run_id or "unknown"
    records = [{"run_id": run_id, "stage": report.stage, "table_name": r.table_name,
                "expectation": r.expectation, "success": r.success, "unexpected_count": r.unexpected_count,
                "sample_file_ids": r.sample_ids, "detail": r.detail, "table_version": r.table_version,
                "checked_at": checked_at} for r in report.rows]
    df = spark.createDataFrame(records, table_def("ops/dq_results").schema)
    # Appended, not replaced: a Delta replaceWhere cost 2-3 s per gate (it rewrites the files
    # holding matching rows and re-checks the written rows), an append ~0.5 s. Re-checking a
    # stage therefore adds an evaluation; readers take the latest one (latest_results).
    lake.append(df, "ops/dq_results")


def latest_results(lake, run_id: str | None = None):
    """ops/dq_results reduced to the latest evaluation of each (run, stage): the rows whose
    checked_at is that (run, stage)'s newest. Every earlier evaluation stays in the table."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    dq = lake.read("ops/dq_results")
    if run_id is not None:
        dq = dq.where(F.col("run_id") == run_id)
    newest = F.max("checked_at").over(Window.partitionBy("run_id", "stage"))
    return dq.withColumn("_newest", newest).where(F.col("checked_at") == F.col("_newest")).drop("_newest")


# The columns that hold a row's bulk: a file's content, a document's text, a sequence's tokens.
BULK_COLUMNS = ("content", "text", "input_ids")


def without_content(df, null_counts: dict | None = None):
    """The table with its bulk columns (BULK_COLUMNS) replaced by stand-ins that keep their
    type and their nulls: "" (or an empty array) for any present value. No native expectation
    looks at these columns beyond type and not-null (suites.py), so they pass or fail exactly
    as on the real columns, while the cached copy and every GX scan skip the bytes (the bulk
    of the table) and no content can reach a GX result. When Delta's statistics say a column
    has no null (`null_counts`, from Lake.null_counts), the stand-in is a constant and the
    column is not read at all; otherwise it is read to keep its nulls. The checks that look
    at the bulk (PII, benchmarks, sequence lengths) get the real table (Env.with_content)."""
    from pyspark.sql import functions as F
    null_counts = null_counts or {}
    types = dict((f.name, f.dataType) for f in df.schema.fields)
    out = []
    for c in df.columns:
        if c not in BULK_COLUMNS:
            out.append(F.col(c))
            continue
        empty = F.array().cast(types[c]) if types[c].typeName() == "array" else F.lit("").cast(types[c])
        if null_counts.get(c) == 0:
            out.append(empty.alias(c))
        else:
            out.append(F.when(F.col(c).isNull(), F.lit(None).cast(types[c])).otherwise(empty).alias(c))
    return df.select(*out)


def run_gate(lake, config, stage, run_id: str | None = None, *, raise_on_failure: bool = True,
             docs: bool = True, log=None, publish: bool = True) -> GateReport:
    """Validate every table the stage's gate checks (Stage.gated) at its latest version
    (one snapshot per table); record; when every
    expectation passes, publish the versions the stage wrote (write-audit-publish,
    jobs/core/publish.py), else (by default) raise, saying which versions readers still see.
    `stage` is a Stage of the registry or its name."""
    if isinstance(stage, str):
        from jobs.stages import get_stage
        stage = get_stage(stage)
    tables = stage.gated
    absent = [t for t in tables if not lake.exists(t)]
    if absent:
        raise UserError(f"cannot check stage {stage.name}: table(s) {', '.join(absent)} do not exist in {lake.root} "
                        f"(run `codemill run --until {stage.name}` or the stage first)")
    t0 = time.perf_counter()
    run_id = run_id or latest_run_id(lake, stage.name)
    # the stage's ops/runs row of the run, read once: the accounting checks get it through Env.cache
    run_row = stage_run_record(lake, stage.name, run_id)
    record = run_row if run_row is not None and run_row["status"] == "succeeded" else None
    written = {t: int(v) for t, v in (record["versions_written"] or {}).items()} if record else {}
    sample_n = config.quality.sample_ids
    report = GateReport(stage=stage.name, run_id=run_id)
    with report.phase("gx context"):
        context = get_context(lake.workspace)
    cache = config.quality.cache_tables
    from jobs.core.incremental import was_incremental
    incremental = was_incremental(record)
    for table_name in tables:
        with report.phase("snapshot"):
            version = lake.version(table_name)
            full = lake.read(table_name, version)  # every expectation sees the same snapshot
            whole = without_content(full, lake.null_counts(table_name, version))
            df = whole
            if incremental and "run_id" in full.columns:
                # the rows this run wrote; the rest was audited when it was published
                full, df = full.where(f"run_id = '{run_id}'"), whole.where(f"run_id = '{run_id}'")
        if cache:
            from pyspark import StorageLevel
            df = df.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            env = Env(lake=lake, table_name=table_name, df=df, config=config, stage=stage,
                      run_id=run_id, sample_n=sample_n, content_df=full, incremental=incremental, whole_df=whole,
                      cache={"run_record": run_row})
            # The aggregate checks' Spark queries run in other threads while GX validates
            # the native expectations: both are chains of small Spark jobs whose latency (job
            # scheduling, Delta log reads), not the cores, dominates on tables of this size.
            with report.phase("expectations + aggregate checks"), ThreadPoolExecutor(2) as pool:
                outcomes_of = evaluate_aggregates(env, pool)
                report.rows += _validate_native(context, table_name, df, config, sample_n, version)
                outcomes = outcomes_of()
            with report.phase("aggregate results"):
                report.rows += _validate_aggregates(context, table_name, outcomes, version)
        finally:
            if cache:
                df.unpersist()
    with report.phase("recording"):
        write_results(lake, lake.spark, report)
    if docs:
        with report.phase("data docs"):
            report.docs_index = _docs_index(context)
    report.seconds = time.perf_counter() - t0
    if log:
        log(report.summary())
    from jobs.core.publish import publish as publish_versions
    from jobs.core.publish import still_seen
    if report.ok and publish:
        # exactly the versions validated, and the run's other writes (tables the gate does not check)
        versions = {**written, **{r.table_name: r.table_version for r in report.rows if r.table_version is not None}}
        publish_versions(lake.root, versions, run_id or "unknown", stage.name, "gate passed")
        if log:
            log("published " + ", ".join(f"{t} v{v}" for t, v in sorted(versions.items())))
    if raise_on_failure and not report.ok:
        raise GateFailed(f"{report.message()}\nnot published: {still_seen(lake.root, tables, lake.published_version)}")
    return report


def gate_after_stage(ctx, stage, result=None) -> GateReport:
    """`after_stage` hook for jobs.pipeline.run_pipeline: the stage's gate on this run.
    Data Docs are not rebuilt here (each rebuild renders every stored validation): the
    caller builds them once when the run ends (`build_lake_docs`)."""
    return run_gate(ctx.lake, ctx.config, stage, ctx.run_id, docs=False, log=ctx.log)


def _docs_index(context) -> str | None:
    index = build_docs(context)
    return str(index) if index else None


def build_lake_docs(lake) -> str | None:
    """Rebuild the lake's Data Docs from every stored gate result; the index path (None when
    no gate has run in this lake)."""
    if not (lake.workspace / "gx").is_dir():
        return None
    return _docs_index(get_context(lake.workspace))
