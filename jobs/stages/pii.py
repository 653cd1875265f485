"""PII stage: silver/deduped → silver/redacted (same rows, PII replaced) + silver/pii_findings.

    codemill pii --lake DIR [--config FILE] [--run-id ID] [--model-path DIR]

No file is rejected: rows_in == rows_kept. Redaction (docs/recipe.md §5.1): <EMAIL>,
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
  workers, 512-token windows as StarPII used (docs/recipe.md §5.3). Works with any tokenizer,
  including StarPII's, whose StarEncoder base is not a WordPiece BERT. Faster for small
  models (tiny test model: 3.8x faster than Spark NLP).
* `sparknlp`: the model exported to ONNX and run in the JVM by Spark NLP's
  BertForTokenClassification (jobs/stages/pii_sparknlp.py). Faster once inference dominates
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

from pathlib import Path

from jobs.core import incremental
from jobs.core.config import PiiConfig
from jobs.core.errors import UserError
from jobs.core.stage import Stage, StageContext, StageResult

INPUT = "silver/deduped"
OUTPUT, FINDINGS = "silver/redacted", "silver/pii_findings"
FINDING_COLS = ("f_type", "f_start", "f_end", "f_detector")

BACKENDS = ("transformers", "sparknlp")
MODEL_SPANS = "_model_spans"  # (start, end, type) structs of the sparknlp back-end, per file


def add_arguments(parser) -> None:
    parser.add_argument("--model-path", help="token-classification model folder (overrides pii.model_path)")
    parser.add_argument("--model-backend", choices=BACKENDS,
                        help="run the model with transformers in Python workers or Spark NLP in the JVM "
                             "(overrides pii.model_backend; default transformers)")


def config_overrides(args) -> dict:
    given = {"model_path": getattr(args, "model_path", None), "model_backend": getattr(args, "model_backend", None)}
    return {"pii": {k: v for k, v in given.items() if v is not None}}


def uses_spark_nlp(config) -> bool:
    return bool(config.pii.model_path) and config.pii.model_backend == "sparknlp"


def sparknlp_model_spans(ctx: StageContext, df, cfg: PiiConfig):
    """(file_id, _model_spans) of the files where the Spark NLP back-end found entities.
    The Hugging Face folder is exported to ONNX once per model version, under the lake."""
    import hashlib

    from pyspark.sql import functions as F

    from jobs.core.session import has_spark_nlp
    from jobs.stages.pii_sparknlp import export_for_sparknlp, sparknlp_spans
    if not has_spark_nlp(ctx.spark):
        raise UserError("pii.model_backend sparknlp needs Spark NLP's jars in the session: run through "
                        "`codemill pii`/`codemill run` (they load them), or spark-submit with "
                        "--jars \"$(codemill jars --nlp)\"")
    model = Path(cfg.model_path).resolve()
    stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                     for p in sorted(model.iterdir()) if p.is_file())
    key = hashlib.sha256(f"{model}|{stamp}".encode()).hexdigest()[:16]
    folder = ctx.lake.workspace / "_models" / f"sparknlp-{key}"
    if not (folder / "model.onnx").exists():
        ctx.log(f"pii: exporting the model to ONNX for Spark NLP ({folder})")
        export_for_sparknlp(model, folder)
    spans = sparknlp_spans(ctx.spark, df.select("file_id", "content"), folder,
                           types=cfg.model_types, redact_usernames=cfg.redact_usernames,
                           window_chars=cfg.sparknlp_window_chars, batch_size=cfg.model_batch_size)
    return spans.groupBy("file_id").agg(F.collect_list(F.struct("start", "end", "type")).alias(MODEL_SPANS))


def redact_batches(cfg: PiiConfig):
    """mapInArrow function: batches of the input table → same columns (content redacted)
    + f_type/f_start/f_end/f_detector arrays. Runs in the Python workers."""
    threshold = cfg.entropy_threshold
    # With the sparknlp back-end the model spans arrive as a column; no model in Python.
    model_path = cfg.model_path if cfg.model_backend == "transformers" else None
    types, usernames, batch_size = cfg.model_types, cfg.redact_usernames, cfg.model_batch_size

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

    cfg = ctx.config.pii
    if cfg.model_path and not Path(cfg.model_path).is_dir():
        raise UserError(f"pii.model_path is not a folder: {cfg.model_path}")
    df = ctx.read_input(INPUT)
    ctx.log(f"pii: reading {INPUT} v{ctx.versions_read[INPUT]}; model tier "
            + (f"on ({cfg.model_backend})" if cfg.model_path else "off (pii.model_path not set)"))

    out_schema = StructType(df.schema.fields + [
        StructField("f_type", ArrayType(StringType())), StructField("f_start", ArrayType(IntegerType())),
        StructField("f_end", ArrayType(IntegerType())), StructField("f_detector", ArrayType(StringType()))])
    scan_input = df
    if cfg.model_path and cfg.model_backend == "sparknlp":
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
    if incremental.active(ctx):  # this run's files replace their earlier rows (jobs/core/incremental.py)
        versions = {OUTPUT: incremental.replace_slice(ctx, OUTPUT, redacted),
                    FINDINGS: incremental.replace_slice(ctx, FINDINGS, findings)}
    else:
        versions = {OUTPUT: ctx.lake.overwrite(redacted, OUTPUT), FINDINGS: ctx.lake.overwrite(findings, FINDINGS)}

    # size_bytes still holds the input's sizes here (redacted recomputes it)
    stats = scanned.agg(F.count("*").alias("rows"), F.sum("size_bytes").alias("bytes_in"),
                        F.sum(F.octet_length(F.col("content"))).alias("bytes_out"),
                        F.sum(F.when(F.size("f_type") > 0, 1).otherwise(0)).alias("files_with_pii")).collect()[0]
    per = findings.groupBy("type", "detector").count().collect()
    scanned.unpersist()
    by_type: dict[str, int] = {}
    by_detector: dict[str, int] = {}
    for r in per:
        by_type[r["type"]] = by_type.get(r["type"], 0) + r["count"]
        by_detector[r["detector"]] = by_detector.get(r["detector"], 0) + r["count"]

    metrics = {"input_table": INPUT, "files_with_pii": str(stats["files_with_pii"] or 0),
               "model_tier": "on" if cfg.model_path else "off"}
    if cfg.model_path:
        metrics["model_backend"] = cfg.model_backend
    metrics.update({f"findings.{t}": str(n) for t, n in sorted(by_type.items())})
    metrics.update({f"detector.{d}": str(n) for d, n in sorted(by_detector.items())})
    ctx.log(f"pii: {sum(by_type.values())} findings in {metrics['files_with_pii']} files "
            f"({', '.join(f'{t}={n}' for t, n in sorted(by_type.items())) or 'none'})")
    rows = stats["rows"] or 0
    return StageResult(rows_in=rows, rows_kept=rows, rejected_by_reason={}, bytes_in=int(stats["bytes_in"] or 0),
                       bytes_kept=int(stats["bytes_out"] or 0), versions_written=versions, metrics=metrics)


STAGE = Stage(
    name="pii", inputs=(INPUT,), outputs=(OUTPUT, FINDINGS), run=run,
    help="PII redaction (emails, IPs, keys, passwords, names; findings without values): "
         "silver/deduped → silver/redacted", add_arguments=add_arguments, config_overrides=config_overrides,
    needs_spark_nlp=uses_spark_nlp)

