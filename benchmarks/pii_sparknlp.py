"""Spark NLP vs codemill's Arrow path for the PII rules tier, on the same real code, in Spark.

    .venv/bin/python benchmarks/pii_sparknlp.py [--max-mb 10] [--repeat 2]

A: Spark NLP DocumentAssembler + RegexMatcher (JVM, java.util.regex) with the rule tier's
   candidate patterns (vendor key formats, email, IPv4/IPv6 candidates, URL userinfo). It only
   finds candidates: the post-filters (public-IP ranges, placeholders, entropy, hash/lock-file
   context, assignment parsing) would still need a Python pass.
B: codemill's jobs.stages.pii.redact_batches in mapInArrow: full detection + post-filters + redaction.

Both read the same cached DataFrame of the site-packages .py files and are forced with an
aggregate. Prints seconds and MB/s for each; the stage keeps whichever is used in jobs/stages/pii.py
(see its docstring for the decision and the figures measured).
"""
from __future__ import annotations

import argparse
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Java-regex versions of the rule tier's candidate patterns (no look-around tricks needed).
RULES = [
    (r"(?:AKIA|ASIA)[A-Z0-9]{16}", "aws_access_key_id"),
    (r"gh[pousr]_[A-Za-z0-9]{36,251}", "github_token"),
    (r"github_pat_[A-Za-z0-9_]{22,244}", "github_pat"),
    (r"glpat-[A-Za-z0-9_\-]{20,}", "gitlab_token"),
    (r"xox[baprs]-(?:[0-9A-Za-z]+-){1,4}[0-9A-Za-z]{6,}", "slack_token"),
    (r"[sr]k_live_[0-9A-Za-z]{20,247}", "stripe_key"),
    (r"AIza[0-9A-Za-z_\-]{35}", "google_api_key"),
    (r"npm_[A-Za-z0-9]{36}", "npm_token"),
    (r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}", "jwt"),
    (r"-----BEGIN [A-Z ]*PRIVATE KEY-----", "pem_private_key"),
    (r"[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@(?:[A-Za-z0-9\-]{1,63}\.){1,10}[A-Za-z]{2,63}", "email"),
    (r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", "ipv4"),
    (r"[23][0-9A-Fa-f]{0,3}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]*", "ipv6"),
    (r"[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@]{1,64}:[^\s@/]{1,128}@", "url_password"),
    (r"(?i)(?:password|passwd|pwd|secret|token|api_?key)[\w.\-]*[\"']?\s*[:=]+\s*[\"']?[^\s\"']{4,}", "assignment"),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=sysconfig.get_paths()["purelib"])
    parser.add_argument("--max-mb", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)

    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType

    from benchmarks.pii_throughput import load_corpus
    from jobs.core.config import load_config
    from jobs.core.session import get_spark
    from jobs.stages.pii import redact_batches

    # the rules tier only (no model), at the entropy threshold this benchmark has always used
    pii_config = load_config(None, {"pii": {"entropy_threshold": 3.0, "model_path": None}}).pii

    files = load_corpus(Path(args.root), int(args.max_mb * 1e6), (".py",))
    mb = sum(len(t.encode()) for _, t in files) / 1e6
    spark = get_spark("codemill-bench-pii-sparknlp", nlp=True)  # Spark NLP's jars
    df = (spark.createDataFrame([(str(i), "bench/repo", p, t) for i, (p, t) in enumerate(files)],
                                "file_id string, repo_name string, path string, content string")
          .repartition(spark.sparkContext.defaultParallelism).persist(StorageLevel.MEMORY_ONLY))
    df.count()
    print(f"corpus: {len(files)} files, {mb:.1f} MB; Spark {spark.version}, "
          f"{spark.sparkContext.defaultParallelism} cores (local)")

    from sparknlp.annotator import RegexMatcher
    from sparknlp.base import DocumentAssembler
    from pyspark.ml import Pipeline

    with tempfile.TemporaryDirectory() as tmp:
        rules_file = Path(tmp) / "rules.tsv"
        rules_file.write_text("".join(f"{rx}\t{name}\n" for rx, name in RULES))
        pipeline = Pipeline(stages=[
            DocumentAssembler().setInputCol("content").setOutputCol("document"),
            RegexMatcher().setInputCols(["document"]).setOutputCol("matches").setStrategy("MATCH_ALL")
            .setExternalRules(str(rules_file), "\t"),
        ]).fit(df)

        def run_sparknlp():
            return pipeline.transform(df).agg(F.sum(F.size("matches")).alias("n")).collect()[0]["n"]

        # a new StructType: StructType.add would change df's own (cached) schema in place, and
        # it parses only simple type names, not "array<string>"
        out_schema = StructType(df.schema.fields + [
            StructField("f_type", ArrayType(StringType())), StructField("f_start", ArrayType(IntegerType())),
            StructField("f_end", ArrayType(IntegerType())), StructField("f_detector", ArrayType(StringType()))])

        def run_arrow():
            scanned = df.mapInArrow(redact_batches(pii_config), out_schema)
            return scanned.agg(F.sum(F.size("f_type")).alias("n")).collect()[0]["n"]

        timings = {"spark-nlp RegexMatcher (candidates only)": [], "codemill mapInArrow (full rules + redaction)": []}
        for _ in range(args.repeat):
            for name, fn in zip(timings, (run_sparknlp, run_arrow)):
                t0 = time.perf_counter()
                n = fn()
                timings[name].append((time.perf_counter() - t0, n))
    for name, runs in timings.items():
        best, n = min(runs)
        print(f"{name:48s} best {best:6.2f} s  {mb / best:6.2f} MB/s  ({n} matches/spans)")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
