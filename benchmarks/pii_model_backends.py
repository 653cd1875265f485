"""PII model tier, two back-ends, same model, same real code, same Spark session (issue 5).

    .venv/bin/python benchmarks/pii_model_backends.py [--max-mb 5] [--repeat 1] [--size tiny|small|base] [--raw]

The model: tests/test_pii_model.py's `build_tiny_model` (StarPII label set, tiny WordPiece
vocabulary, no download), built with 512 positions and then given random classifier weights
so that labels vary from token to token. `--size small|base` swaps in a wider, deeper random
BERT on the same vocabulary, to see the regime where the network (not the plumbing) dominates.
The tiny vocabulary makes about one word piece per non-space character (a real code
vocabulary: about one per 3-4), so a MB here is several times more tokens than with StarPII.

A: Spark NLP: the model exported to ONNX (jobs/stages/pii_sparknlp.export_for_sparknlp), windows cut
   in Spark SQL, DocumentAssembler → Tokenizer → BertForTokenClassification → NerConverter in
   the JVM. Timed as post-processed spans (sparknlp_spans: + udfs.pii_model.postprocess in
   a mapInArrow), what the stage would consume; with --raw also as raw entities
   (sparknlp_entities), to show what the Python post-processing costs.
B: transformers: udfs.pii_model.get_detector(...).detect_batch on each Arrow batch in
   mapInArrow, exactly the model half of jobs/stages/pii.py's redact_batches (post-processing
   included).

Both read one cached DataFrame of the site-packages .py files and are forced with an
aggregate; one untimed warm-up run each loads the models (Spark reuses Python workers, the
JVM keeps its onnxruntime session), then the best of --repeat runs is reported. Entity counts
differ between A and B and are printed only as a sanity check: the weights are random, the
tokenizers differ (Spark NLP's Tokenizer + WordPiece vs the Hugging Face fast tokenizer) and
the windows differ (A: <= 510 characters at line ends; B: 510 word pieces).
"""
from __future__ import annotations

import argparse
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # build_tiny_model lives in the test module

# bigger random encoders on the same vocabulary; "base" has the shape of BERT-base / StarEncoder
SIZES = {"small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
         "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)}


def build_model(folder: Path, size: str) -> Path:
    """The team's tiny test model with 512 positions and random classifier weights; for
    `small`, the same vocabulary and labels under a bigger random encoder."""
    import torch
    from transformers import BertConfig, BertForTokenClassification
    from test_pii_model import build_tiny_model

    build_tiny_model(folder, "O", max_positions=512)
    model = BertForTokenClassification.from_pretrained(folder)
    if size in SIZES:
        config = BertConfig(**{**model.config.to_dict(), **SIZES[size]})
        model = BertForTokenClassification(config)
    torch.manual_seed(1)
    with torch.no_grad():  # labels depend on the token, not one forced label everywhere
        model.classifier.weight.normal_(0.0, 1.0)
        model.classifier.bias.zero_()
    model.save_pretrained(folder)
    return folder


def transformers_spans(df, model_path: str, types, batch_size: int, torch_threads: int = 0):
    """B: the model tier as jobs/stages/pii.py runs it: one detector per Python worker, one
    detect_batch call per Arrow batch, spans out as (file_id, start, end, type) rows.
    torch_threads > 0 pins torch's intra-op threads per worker (the stage leaves torch's default)."""
    def apply(batches):
        import pyarrow as pa

        from udfs.pii_model import get_detector
        if torch_threads:
            import torch
            torch.set_num_threads(torch_threads)
        detector = get_detector(model_path, types, False, batch_size)
        for batch in batches:
            ids = batch.column("file_id").to_pylist()
            found = detector.detect_batch([c or "" for c in batch.column("content").to_pylist()])
            rows = [(i, s.start, s.end, s.type) for i, spans in zip(ids, found) for s in spans]
            yield pa.RecordBatch.from_pylist(
                [dict(zip(("file_id", "start", "end", "type"), r)) for r in rows],
                schema=pa.schema([("file_id", pa.string()), ("start", pa.int32()),
                                  ("end", pa.int32()), ("type", pa.string())]))

    return df.mapInArrow(apply, "file_id string, start int, end int, type string")


def timed(fn, repeat: int) -> tuple[float, int]:
    fn()  # warm-up: model loading, JIT, onnxruntime session
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        runs.append((time.perf_counter() - t0, n))
    return min(runs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=sysconfig.get_paths()["purelib"], help="folder of real code")
    parser.add_argument("--max-mb", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs after the warm-up (best is kept)")
    parser.add_argument("--raw", action="store_true", help="also time Spark NLP's raw entities")
    parser.add_argument("--size", choices=["tiny", *SIZES], default="tiny")
    parser.add_argument("--batch-size", type=int, default=16, help="windows per inference call (both back-ends)")
    parser.add_argument("--window-chars", type=int, default=None,
                        help="Spark NLP window size in characters (default 510: never truncated)")
    parser.add_argument("--onnx-threads", type=int, default=1,
                        help="onnxruntime intra-op threads per Spark task (Spark NLP's own default, 6, "
                             "oversubscribes a small machine: every concurrent task starts that many); "
                             "0 keeps Spark NLP's default")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch intra-op threads per Python worker; 0 = torch's default, as jobs/stages/pii.py runs")
    parser.add_argument("--types", default="NAME,EMAIL,KEY,PASSWORD,IP_ADDRESS",
                        help="entity types kept by post-processing (both back-ends)")
    args = parser.parse_args(argv)

    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from benchmarks.pii_throughput import load_corpus
    from jobs.core.session import get_spark
    from jobs.stages.pii_sparknlp import export_for_sparknlp, sparknlp_entities, sparknlp_spans

    types = tuple(t.strip() for t in args.types.split(",") if t.strip())
    files = load_corpus(Path(args.root), int(args.max_mb * 1e6), (".py",))
    mb = sum(len(t.encode()) for _, t in files) / 1e6

    with tempfile.TemporaryDirectory() as tmp:
        hf = build_model(Path(tmp) / "hf", args.size)
        t0 = time.perf_counter()
        onnx_folder = export_for_sparknlp(hf, Path(tmp) / "sparknlp")
        export_s = time.perf_counter() - t0

        # Spark NLP reads its onnx settings from the session conf once per JVM, so set them at start
        conf = {"spark.jsl.settings.onnx.intraOpNumThreads": str(args.onnx_threads)} if args.onnx_threads else {}
        spark = get_spark("codemill-bench-pii-model-backends", extra_conf=conf, nlp=True)  # Spark NLP's jars
        df = (spark.createDataFrame([(str(i), t) for i, (_, t) in enumerate(files)], "file_id string, content string")
              .repartition(spark.sparkContext.defaultParallelism).persist(StorageLevel.MEMORY_ONLY))
        df.count()
        print(f"corpus: {len(files)} files, {mb:.2f} MB of .py; Spark {spark.version}, "
              f"{spark.sparkContext.defaultParallelism} cores (local); model '{args.size}', "
              f"ONNX export {export_s:.1f} s; onnxruntime threads per task: {args.onnx_threads or 'Spark NLP default (6)'}; "
              f"torch threads per Python worker: {args.torch_threads or 'torch default'}")

        # DataFrames are built once: Spark NLP loads and broadcasts the model here, not per run
        raw = sparknlp_entities(spark, df, onnx_folder, args.window_chars, args.batch_size)
        spans_a = sparknlp_spans(spark, df, onnx_folder, types, False, args.window_chars, args.batch_size)
        spans_b = transformers_spans(df, str(hf), types, args.batch_size, args.torch_threads)

        def count(frame):
            return lambda: frame.agg(F.count("*").alias("n")).collect()[0]["n"]

        results = {}
        if args.raw:
            results["A  spark-nlp raw entities"] = timed(count(raw), args.repeat)
        results["A  spark-nlp + postprocess"] = timed(count(spans_a), args.repeat)
        results["B  transformers mapInArrow"] = timed(count(spans_b), args.repeat)
        spark.stop()

    for name, (secs, n) in results.items():
        print(f"{name:30s} best {secs:7.2f} s  {mb / secs:6.3f} MB/s  ({n} entities)")
    a, b = results["A  spark-nlp + postprocess"][0], results["B  transformers mapInArrow"][0]
    faster = "Spark NLP (A)" if a < b else "transformers (B)"
    print(f"ratio B/A = {b / a:.2f}  -> {faster} is faster, end to end with post-processing")
    print("entity counts differ by design: random weights, different tokenizers and windows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
