"""PII stage: upstream files → silver/redacted (same rows, PII replaced) + silver/pii_findings.

    spark-submit jobs/pii.py --lake DIR [--config FILE] [--run-id ID] [--model-path DIR]

Reads the nearest existing upstream table (silver/deduped, silver/filtered, silver/selected,
bronze/files). No file is rejected: rows_in == rows_kept. Redaction (FACTS §5.1): <EMAIL>,
<KEY>, <PASSWORD>, <NAME>; IP addresses → one of 5 synthetic private addresses of the same
family, chosen from a hash of the address (same address → same replacement). content_sha256
and size_bytes of silver/redacted describe the REDACTED content (what downstream stages and
the trainer see); the original hash stays in the upstream table under the same file_id.

Findings (file_id, type, start, end, detector, run_id) hold character offsets into the
original content — never the value. Nothing this stage logs, raises or records in ops/runs
holds file content: only counts by type and detector.

How it runs: one Arrow function (mapInArrow) per partition applies the rules tier
(udfs/pii.py) and, when `pii.model_path` is set, the model tier (udfs/pii_model.py, loaded
once per Python worker) to whole Arrow batches, and returns the table's rows with `content`
replaced plus the findings as parallel arrays.

Why the rules run in Python and not in Spark NLP (DocumentAssembler + RegexMatcher): a JVM
regex pass can only produce candidates; every rule needs Python post-filters (public-IP
ranges, placeholders, entropy, hash/lock-file context, assignment parsing), so RegexMatcher
would add a pass over the data rather than replace one, and the Python rules run at
≥ 5 MB/s per core on their own (benchmarks/pii_throughput.py). benchmarks/pii_sparknlp.py
times both paths on the same DataFrame. Why the model tier uses transformers rather than
Spark NLP: see udfs/pii_model.py (Spark NLP 5.5.3 can only import it via ONNX here).
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

from jobs.stage import StageContext, StageResult, UserError, stage_main, upstream  # noqa: E402

STAGE = "pii"
INPUTS = ["silver/deduped", "silver/filtered", "silver/selected", "bronze/files"]
OUTPUT, FINDINGS = "silver/redacted", "silver/pii_findings"
FINDING_COLS = ("f_type", "f_start", "f_end", "f_detector")


def add_arguments(parser) -> None:
    parser.add_argument("--model-path", help="token-classification model folder (overrides pii.model_path)")


def settings(ctx: StageContext) -> dict:
    cfg = dict(ctx.config.get("pii") or {})
    override = getattr(ctx.args, "model_path", None)
    if override:
        cfg["model_path"] = override
    if cfg.get("model_path") and not Path(cfg["model_path"]).is_dir():
        raise UserError(f"pii.model_path is not a folder: {cfg['model_path']}")
    return cfg


def redact_batches(cfg: dict):
    """mapInArrow function: batches of the input table → same columns (content redacted)
    + f_type/f_start/f_end/f_detector arrays. Runs in the Python workers."""
    threshold = float(cfg.get("entropy_threshold", 3.0))
    model_path = cfg.get("model_path")
    types = tuple(cfg.get("model_types") or ["NAME"])
    usernames = bool(cfg.get("redact_usernames", False))
    batch_size = int(cfg.get("model_batch_size", 16))

    def apply(batches):
        import pyarrow as pa

        from udfs import pii
        detector = None
        if model_path:
            from udfs.pii_model import get_detector
            detector = get_detector(model_path, types, usernames, batch_size)
        for batch in batches:
            contents = batch.column("content").to_pylist()
            paths = batch.column("path").to_pylist()
            found = [pii.detect_rules(c or "", p, threshold) for c, p in zip(contents, paths)]
            if detector is not None:
                model_spans = detector.detect_batch([c or "" for c in contents])
                found = [pii.merge_spans(a + b) for a, b in zip(found, model_spans)]
            redacted = [pii.redact(c, s) if s else c for c, s in zip(contents, found)]
            idx = batch.schema.get_field_index("content")
            out = batch.set_column(idx, batch.schema.field(idx), pa.array(redacted, pa.string()))
            for name, values, typ in (
                    ("f_type", [[s.type for s in f] for f in found], pa.list_(pa.string())),
                    ("f_start", [[s.start for s in f] for f in found], pa.list_(pa.int32())),
                    ("f_end", [[s.end for s in f] for f in found], pa.list_(pa.int32())),
                    ("f_detector", [[s.detector for s in f] for f in found], pa.list_(pa.string()))):
                out = out.append_column(name, pa.array(values, typ))
            yield out

    return apply


def run(ctx: StageContext) -> StageResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType

    cfg = settings(ctx)
    source = upstream(ctx, INPUTS)
    version_in = ctx.lake.version(source)
    df = ctx.lake.read(source, version_in)
    ctx.log(f"pii: reading {source} v{version_in}; model tier "
            + ("on" if cfg.get("model_path") else "off (pii.model_path not set)"))

    out_schema = StructType(df.schema.fields + [
        StructField("f_type", ArrayType(StringType())), StructField("f_start", ArrayType(IntegerType())),
        StructField("f_end", ArrayType(IntegerType())), StructField("f_detector", ArrayType(StringType()))])
    scanned = df.mapInArrow(redact_batches(cfg), out_schema).persist(StorageLevel.MEMORY_AND_DISK)

    redacted = (scanned.drop(*FINDING_COLS)
                .withColumn("size_bytes", F.octet_length("content").cast("long"))
                .withColumn("content_sha256", F.sha2(F.col("content"), 256)))
    findings = (scanned.select("file_id", F.explode(F.arrays_zip(*FINDING_COLS)).alias("f"))
                .select("file_id", F.col("f.f_type").alias("type"), F.col("f.f_start").alias("start"),
                        F.col("f.f_end").alias("end"), F.col("f.f_detector").alias("detector"))
                .withColumn("run_id", F.lit(ctx.run_id)))

    from schemas import table as table_def
    for f in table_def(OUTPUT).schema.fields:  # bronze/selected inputs lack the later stages' columns
        if f.name not in redacted.columns:
            redacted = redacted.withColumn(f.name, F.lit(None).cast(f.dataType))
    versions = {OUTPUT: ctx.lake.overwrite(redacted, OUTPUT), FINDINGS: ctx.lake.overwrite(findings, FINDINGS)}

    stats = scanned.agg(F.count("*").alias("rows"),
                        F.sum(F.octet_length(F.col("content"))).alias("bytes_out"),
                        F.sum(F.when(F.size("f_type") > 0, 1).otherwise(0)).alias("files_with_pii")).collect()[0]
    bytes_in = df.agg(F.sum("size_bytes").alias("b")).collect()[0]["b"] or 0
    by_type = {r["type"]: r["count"] for r in ctx.lake.read(FINDINGS).groupBy("type").count().collect()}
    by_detector = {r["detector"]: r["count"] for r in ctx.lake.read(FINDINGS).groupBy("detector").count().collect()}
    scanned.unpersist()

    metrics = {"input_table": source, "files_with_pii": str(stats["files_with_pii"] or 0),
               "model_tier": "on" if cfg.get("model_path") else "off"}
    metrics.update({f"findings.{t}": str(n) for t, n in sorted(by_type.items())})
    metrics.update({f"detector.{d}": str(n) for d, n in sorted(by_detector.items())})
    ctx.log(f"pii: {sum(by_type.values())} findings in {metrics['files_with_pii']} files "
            f"({', '.join(f'{t}={n}' for t, n in sorted(by_type.items())) or 'none'})")
    rows = stats["rows"] or 0
    return StageResult(rows_in=rows, rows_kept=rows, rejected_by_reason={}, bytes_in=int(bytes_in),
                       bytes_kept=int(stats["bytes_out"] or 0), versions_read={source: version_in},
                       versions_written=versions, metrics=metrics)


if __name__ == "__main__":
    sys.exit(stage_main(STAGE, run, add_arguments, description=__doc__.splitlines()[0]))
