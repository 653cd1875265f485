"""Content scans behind two gates, run as vectorized pandas UDFs with the same detectors the
stages use, reduced to counts by Spark aggregates:

* no_remaining_pii (silver/redacted): udfs.pii.detect_rules over the redacted content of every
  redacted file and a seeded share of the unchanged ones (rescan_set); the number of files
  where any rule still fires (redaction placeholders and the synthetic private IPs it
  substitutes do not match the rules).
* no_benchmark_string (gold/files): the decontaminate stage's Aho–Corasick matcher over the
  configured benchmarks; the number of files still containing a benchmark string.

Only counts, entity types, benchmark item ids and file_ids leave the workers: never a matched
value or any content.
"""
from __future__ import annotations

from quality_checks.base import CheckOutcome, Env


def _pii_types_udf(entropy_threshold: float):
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    def pii_types(contents, paths):
        from udfs import pii
        out = []
        for text, path in zip(contents, paths):
            spans = pii.detect_rules(text, path, entropy_threshold) if text else []
            out.append(",".join(sorted({s.type for s in spans})) if spans else None)
        return pd.Series(out, dtype=object)

    # This module uses `from __future__ import annotations`, which would turn hints into strings
    # that pandas_udf cannot read: give it the real types.
    pii_types.__annotations__ = {"contents": pd.Series, "paths": pd.Series, "return": pd.Series}
    # Marked nondeterministic so that Spark keeps it where it is written: as a deterministic
    # expression, the `types IS NOT NULL` filter was pushed below rescan_set's join and sample,
    # and the rules ran over every file of the table and then again over the rescan set
    # (measured 18 s instead of 6.5 s on the real corpus; docs/quality.md).
    return pandas_udf(pii_types, "string").asNondeterministic()


def rescan_set(env: Env):
    """The redacted files no_remaining_pii scans: every file the stage redacted (it has a row
    in silver/pii_findings) and a seeded share (`quality.pii_rescan_fraction`) of the others.
    A file without findings is the stage's input unchanged and was already scanned by the
    same rules, so rescanning all of it re-proves determinism, not redaction; the sample keeps
    that proof without paying for it on every file. (What it scans, of how many, in the detail.)"""
    from pyspark.sql import functions as F

    df = env.with_content
    fraction = env.config.quality.pii_rescan_fraction
    if fraction >= 1.0 or not env.lake.exists("silver/pii_findings"):
        return df, "every file"
    redacted = F.broadcast(env.lake.read("silver/pii_findings").select("file_id").distinct()
                           .withColumn("_redacted", F.lit(True)))
    sampled = (F.abs(F.xxhash64("file_id", F.lit("rescan"))) % 1_000_000) < int(round(fraction * 1_000_000))
    picked = df.join(redacted, "file_id", "left").where(F.col("_redacted").isNotNull() | sampled).drop("_redacted")
    return picked, f"every redacted file and {fraction:.0%} of the others"


def pii_hits(env: Env):
    """(the rescanned files where a PII rule still fires: file_id, types; which files were
    scanned, in words). The rules run once per file of the rescan set, and only there."""
    entropy = env.config.pii.entropy_threshold
    scanned, which = rescan_set(env)
    marked = scanned.select("file_id", _pii_types_udf(entropy)("content", "path").alias("types"))
    return marked.where("types IS NOT NULL"), which


def remaining_pii(env: Env) -> CheckOutcome:
    found, which = pii_hits(env)
    # One pass of the detectors: files counted per combination of types found.
    combos = found.groupBy("types").count().collect()
    n = sum(r["count"] for r in combos)
    if not n:
        return CheckOutcome(0, [], f"no PII rule fires on the redacted content (scanned {which})")
    per_type: dict[str, int] = {}
    for r in combos:
        for t in r["types"].split(","):
            per_type[t] = per_type.get(t, 0) + r["count"]
    kinds = ", ".join(f"{t}: {c} files" for t, c in sorted(per_type.items()))
    return CheckOutcome(n, env.ids(found), f"{n} redacted files still match a PII rule ({kinds}; scanned {which})")


def remaining_benchmarks(env: Env) -> CheckOutcome:
    from pyspark.sql import functions as F

    from jobs.stages import decontaminate

    patterns, loaded = decontaminate.load_patterns(env.config.decontaminate)
    if not patterns:
        return CheckOutcome(None, [], "skipped: no benchmark strings loaded (none configured or found)")
    match = decontaminate.match_udf(env.df.sparkSession, patterns)
    found = env.with_content.select("file_id", match("content").alias("match")).where("match IS NOT NULL")
    rows = found.groupBy(F.substring_index("match", ":", 1).alias("b")).count().collect()
    n = sum(r["count"] for r in rows)
    benchmarks = ", ".join(f"{loaded.loaded[k]} {k}" for k in sorted(loaded.loaded))
    if not n:
        return CheckOutcome(0, [], f"no file contains any of {len(patterns)} benchmark strings ({benchmarks})")
    items = [r["match"] for r in found.select("match").distinct().limit(env.sample_n).collect()]
    return CheckOutcome(n, env.ids(found), f"{n} files contain benchmark strings (e.g. {', '.join(items)})")
