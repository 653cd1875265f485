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

Model back-ends (pii.model_backend), measured on the same cached DataFrame by
benchmarks/pii_model_backends.py (2 cores, random-weight models of three sizes):
* `transformers` (default): the Hugging Face model and its own tokenizer in the Python
  workers, 512-token windows as StarPII used (FACTS §5.3). Works with any tokenizer,
  including StarPII's, whose StarEncoder base is not a WordPiece BERT. Faster for small
  models (tiny test model: 3.8x faster than Spark NLP).
* `sparknlp`: the model exported to ONNX and run in the JVM by Spark NLP's
  BertForTokenClassification (udfs/pii_sparknlp.py). Faster once inference dominates
  (BERT-base shape: 1.6-1.9x faster than transformers), but only for WordPiece tokenizers
  (Spark NLP re-tokenizes with vocab.txt) and with character windows of ~510 characters,
  i.e. less context than 512 tokens. Model spans are computed first, joined back by file_id
  and merged with the rule spans in the same redaction pass.

Why the rules run in Python and not in Spark NLP (DocumentAssembler + RegexMatcher): a JVM
regex pass can only produce candidates; every rule needs Python post-filters (public-IP
ranges, placeholders, entropy, hash/lock-file context, assignment parsing), so RegexMatcher
would add a pass over the data rather than replace one, and the Python rules run at
≥ 5 MB/s per core on their own (benchmarks/pii_throughput.py). benchmarks/pii_sparknlp.py
times both paths on the same DataFrame. Why the model tier defaults to transformers rather
than Spark NLP: see "Model back-ends" above.
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

BACKENDS = ("transformers", "sparknlp")
MODEL_SPANS = "_model_spans"  # (start, end, type) structs of the sparknlp back-end, per file


def add_arguments(parser) -> None:
    parser.add_argument("--model-path", help="token-classification model folder (overrides pii.model_path)")
    parser.add_argument("--model-backend", choices=BACKENDS,
                        help="run the model with transformers in Python workers or Spark NLP in the JVM "
                             "(overrides pii.model_backend; default transformers)")


def settings(ctx: StageContext) -> dict:
    cfg = dict(ctx.config.get("pii") or {})
    override = getattr(ctx.args, "model_path", None)
    if override:
        cfg["model_path"] = override
    if getattr(ctx.args, "model_backend", None):
        cfg["model_backend"] = ctx.args.model_backend
    if cfg.get("model_path") and not Path(cfg["model_path"]).is_dir():
        raise UserError(f"pii.model_path is not a folder: {cfg['model_path']}")
    cfg["model_backend"] = cfg.get("model_backend") or "transformers"
    if cfg["model_backend"] not in BACKENDS:
        raise UserError(f"pii.model_backend must be one of {', '.join(BACKENDS)}, got {cfg['model_backend']!r}")
    return cfg


def sparknlp_model_spans(ctx: StageContext, df, cfg: dict):
    """(file_id, _model_spans) of the files where the Spark NLP back-end found entities.
    The Hugging Face folder is exported to ONNX once per model version, under the lake."""
    import hashlib

    from pyspark.sql import functions as F

    from udfs.pii_sparknlp import export_for_sparknlp, sparknlp_spans
    model = Path(cfg["model_path"]).resolve()
    stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                     for p in sorted(model.iterdir()) if p.is_file())
    key = hashlib.sha256(f"{model}|{stamp}".encode()).hexdigest()[:16]
    folder = ctx.lake.root / "_models" / f"sparknlp-{key}"
    if not (folder / "model.onnx").exists():
        ctx.log(f"pii: exporting the model to ONNX for Spark NLP ({folder})")
        export_for_sparknlp(model, folder)
    spans = sparknlp_spans(ctx.spark, df.select("file_id", "content"), folder,
                           types=tuple(cfg.get("model_types") or ["NAME"]),
                           redact_usernames=bool(cfg.get("redact_usernames", False)),
                           window_chars=cfg.get("sparknlp_window_chars"),
                           batch_size=int(cfg.get("model_batch_size", 16)))
    return spans.groupBy("file_id").agg(F.collect_list(F.struct("start", "end", "type")).alias(MODEL_SPANS))


def redact_batches(cfg: dict):
    """mapInArrow function: batches of the input table → same columns (content redacted)
    + f_type/f_start/f_end/f_detector arrays. Runs in the Python workers."""
    threshold = float(cfg.get("entropy_threshold", 3.0))
    # With the sparknlp back-end the model spans arrive as a column; no model in Python.
    model_path = cfg.get("model_path") if cfg.get("model_backend", "transformers") == "transformers" else None
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
            if MODEL_SPANS in batch.schema.names:
                given = [[pii.Span(m["start"], m["end"], m["type"], "model") for m in ms or []]
                         for ms in batch.column(MODEL_SPANS).to_pylist()]
                found = [pii.merge_spans(a + b) if b else a for a, b in zip(found, given)]
                batch = batch.drop_columns([MODEL_SPANS])
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
            + (f"on ({cfg['model_backend']})" if cfg.get("model_path") else "off (pii.model_path not set)"))

    out_schema = StructType(df.schema.fields + [
        StructField("f_type", ArrayType(StringType())), StructField("f_start", ArrayType(IntegerType())),
        StructField("f_end", ArrayType(IntegerType())), StructField("f_detector", ArrayType(StringType()))])
    scan_input = df
    if cfg.get("model_path") and cfg["model_backend"] == "sparknlp":
        scan_input = (df.join(sparknlp_model_spans(ctx, df, cfg), "file_id", "left")
                      .select(*df.columns, MODEL_SPANS))  # the input's column order, as out_schema expects
    scanned = scan_input.mapInArrow(redact_batches(cfg), out_schema).persist(StorageLevel.MEMORY_AND_DISK)

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
    if cfg.get("model_path"):
        metrics["model_backend"] = cfg["model_backend"]
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
