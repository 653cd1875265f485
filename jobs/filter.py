"""Filter stage: silver/selected → silver/filtered (per-extension quality heuristics).

    spark-submit jobs/filter.py --lake DIR [--config FILE] [--run-id ID]

Every file's metrics (line count, max/mean line length, alphanumeric and alphabetic
fractions, encoded-data coverage and longest run) are measured by an Arrow UDF
(mapInArrow) calling udfs.heuristics on whole batches; thresholds come from the
`filter:` section of configs/pipeline.yaml (defaults + per-extension overrides). The
first rule that fires is the reason written to silver/rejections, with the measured
value vs the threshold as detail; kept files keep their metrics as columns.
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

import sys
from pathlib import Path

from jobs.stage import StageContext, StageResult, count_by_reason, stage_main, upstream, write_rejections  # noqa: E402
from udfs.heuristics import FilterRules  # noqa: E402

STAGE = "filter"
OUTPUT = "silver/filtered"
METRICS_DDL = ("line_count long, max_line_length long, avg_line_length double, alphanum_fraction double, "
               "alpha_fraction double, encoded_fraction double, encoded_max_run long, reason string, detail string")


def heuristics_fn(rules: FilterRules, content_col: str = "content", extension_col: str = "extension"):
    """mapInArrow function: each batch gets the metric columns plus reason and detail."""
    def apply(batches):
        import numpy as np
        import pyarrow as pa

        from udfs.heuristics import evaluate
        for batch in batches:
            if batch.num_rows == 0:
                continue
            metrics, reasons, details = evaluate(batch.column(content_col),
                                                 batch.column(extension_col).to_pylist(), rules)
            cols = list(batch.columns) + [
                pa.array(metrics["line_count"], pa.int64()),
                pa.array(metrics["max_line_length"], pa.int64()),
                pa.array(metrics["avg_line_length"].astype(np.float64), pa.float64()),
                pa.array(metrics["alphanum_fraction"].astype(np.float64), pa.float64()),
                pa.array(metrics["alpha_fraction"].astype(np.float64), pa.float64()),
                pa.array(metrics["encoded_fraction"].astype(np.float64), pa.float64()),
                pa.array(metrics["encoded_max_run"], pa.int64()),
                pa.array(reasons, pa.string()),
                pa.array(details, pa.string()),
            ]
            names = list(batch.schema.names) + ["line_count", "max_line_length", "avg_line_length",
                                                 "alphanum_fraction", "alpha_fraction", "encoded_fraction",
                                                 "encoded_max_run", "reason", "detail"]
            yield pa.RecordBatch.from_arrays(cols, names=names)
    return apply


def annotate(df, rules: FilterRules):
    """df (with content and extension) + metric columns + reason + detail."""
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType
    types = {"long": LongType(), "double": DoubleType(), "string": StringType()}
    extra = [StructField(name, types[kind]) for name, kind in (c.strip().split() for c in METRICS_DDL.split(","))]
    out_schema = StructType(df.schema.fields + extra)
    return df.mapInArrow(heuristics_fn(rules), out_schema)


def run(ctx: StageContext) -> StageResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    rules = FilterRules.from_config(ctx.config.get("filter"))
    source = upstream(ctx, ["silver/selected"])
    version_in = ctx.lake.version(source)
    selected = ctx.lake.read(source, version=version_in)
    annotated = annotate(selected, rules).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        totals = annotated.agg(F.count("*").alias("n"), F.sum("size_bytes").alias("b"),
                               F.count(F.when(F.col("reason").isNull(), 1)).alias("kept"),
                               F.sum(F.when(F.col("reason").isNull(), F.col("size_bytes"))).alias("kept_b")).collect()[0]
        kept = annotated.filter(F.col("reason").isNull())
        rejected = annotated.filter(F.col("reason").isNotNull()).select(
            "file_id", "repo_name", "path", "reason", "detail", "size_bytes", "language")
        versions = {OUTPUT: ctx.lake.overwrite(kept, OUTPUT)}
        write_rejections(ctx, STAGE, rejected)
        versions["silver/rejections"] = ctx.lake.version("silver/rejections")
        by_reason = count_by_reason(rejected)
    finally:
        annotated.unpersist()
    return StageResult(
        rows_in=totals["n"], rows_kept=totals["kept"], rejected_by_reason=by_reason,
        bytes_in=totals["b"] or 0, bytes_kept=totals["kept_b"] or 0,
        versions_read={source: version_in}, versions_written=versions,
        metrics={"per_extension_rules": str(len(rules.per_extension))},
    )


if __name__ == "__main__":
    sys.exit(stage_main(STAGE, run, description=__doc__.splitlines()[0]))
