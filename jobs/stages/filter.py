"""Filter stage: silver/selected → silver/filtered (per-extension quality heuristics).

    codemill filter --lake DIR [--config FILE] [--run-id ID]

Every file's metrics (line count, max/mean line length, alphanumeric and alphabetic
fractions, encoded-data coverage and longest run) are measured by an Arrow UDF
(mapInArrow) calling udfs.heuristics on whole batches; the rules and their per-extension
settings are udfs.heuristics.RULES with the `filter:` section of configs/pipeline.yaml. The
first rule that fires is the reason written to silver/rejections, with the measured value
vs the threshold as detail; kept files keep their metrics as columns.
"""
from __future__ import annotations

from jobs.core.stage import Stage, StageContext, StageResult, keep_or_reject
from udfs.heuristics import FilterRules

INPUT = "silver/selected"


def heuristics_fn(rules: FilterRules, content_col: str = "content", extension_col: str = "extension"):
    """mapInArrow function: each batch gets the metric columns plus reason and detail."""
    from schemas.tables import QUALITY_METRICS
    metric_types = [(f.name, f.dataType.typeName()) for f in QUALITY_METRICS]

    def apply(batches):
        import pyarrow as pa

        from udfs.heuristics import evaluate
        arrow_type = {"long": pa.int64(), "double": pa.float64()}
        for batch in batches:
            if batch.num_rows == 0:
                continue
            metrics, reasons, details = evaluate(batch.column(content_col),
                                                 batch.column(extension_col).to_pylist(), rules)
            cols = list(batch.columns) + [pa.array(metrics[name], arrow_type[kind]) for name, kind in metric_types]
            cols += [pa.array(reasons, pa.string()), pa.array(details, pa.string())]
            names = list(batch.schema.names) + [name for name, _ in metric_types] + ["reason", "detail"]
            yield pa.RecordBatch.from_arrays(cols, names=names)
    return apply


def annotate(df, rules: FilterRules):
    """df (with content and extension) + metric columns + reason + detail."""
    from pyspark.sql.types import StringType, StructField, StructType

    from schemas.tables import QUALITY_METRICS
    out_schema = StructType(df.schema.fields + list(QUALITY_METRICS)
                            + [StructField("reason", StringType()), StructField("detail", StringType())])
    return df.mapInArrow(heuristics_fn(rules), out_schema)


def run(ctx: StageContext) -> StageResult:
    rules = ctx.config.filter
    result = keep_or_reject(ctx, STAGE, annotate(ctx.read_input(INPUT), rules))
    result.metrics["per_extension_rules"] = str(len(rules.per_extension))
    return result


STAGE = Stage(
    name="filter", inputs=(INPUT,), outputs=("silver/filtered",), run=run,
    help="per-extension quality heuristics of the StarCoder recipe: silver/selected → silver/filtered")
