"""Select stage: bronze/files → silver/selected (language, license, opt-out).

    spark-submit jobs/select.py --lake DIR [--config FILE] [--run-id ID]

Adds `language`, `extension` (from the Linguist-derived map, configs/languages.json) and
`license_type` (permissive | non_permissive | no_license). Checks run in this order; the
first that fires is the rejection reason in silver/rejections:
  opted_out            repository or its owner is in governance/optout
  excluded_extension   one of the 36 extensions StarCoder excluded (FACTS §1.4)
  unknown_language     no filename rule or extension in the language map
  language_not_selected language not in select.languages
  no_license / license_not_permissive   license type not in select.license_policy
Opt-out comes first (a governance decision outranks everything); the language checks
come before the license, so a LICENSE file is unknown_language in every repository.
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

from jobs.config import REPO_ROOT  # noqa: E402
from jobs.stage import StageContext, StageResult, count_by_reason, stage_main, write_rejections  # noqa: E402
from udfs import licenses  # noqa: E402

STAGE = "select"
INPUT = "bronze/files"
OUTPUT = "silver/selected"
OPTED_OUT = "opted_out"
CLASSIFY_DDL = "language string, extension string, reason string, detail string"


def settings(config: dict) -> dict:
    cfg = config.get("select") or {}
    map_path = Path(cfg.get("language_map") or "configs/languages.json")
    if not map_path.is_absolute():
        map_path = REPO_ROOT / map_path
    langs = cfg.get("languages")
    return {
        "language_map": str(map_path),
        "excluded": frozenset(str(e).lower().lstrip(".") for e in cfg.get("excluded_extensions") or []),
        "languages": None if langs is None else frozenset(langs),
        "permissive": frozenset(str(x).lower() for x in cfg.get("permissive_licenses") or []),
        "keep_license_types": frozenset(cfg.get("license_policy") or [licenses.PERMISSIVE]),
    }


def classify_udf(map_path: str, excluded: frozenset, languages: frozenset | None):
    """Vectorized (pandas) UDF: path → struct(language, extension, reason, detail)."""
    import pandas as pd
    from pyspark.sql.functions import PandasUDFType, pandas_udf

    def classify(paths):
        from udfs.languages import classify_paths, load_map
        res = classify_paths(paths.tolist(), load_map(map_path), excluded, languages)
        return pd.DataFrame({"language": [r.language for r in res], "extension": [r.extension for r in res],
                             "reason": [r.reason for r in res], "detail": [r.detail for r in res]})
    # Explicit SCALAR type: this module's postponed annotations hide the pd.Series hints from Spark.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pandas_udf(classify, CLASSIFY_DDL, PandasUDFType.SCALAR)


def license_types(spark, files, permissive: frozenset):
    """Small table license → license_type, classified on the driver over DISTINCT values
    (a repository license column has few distinct values), joined back by broadcast."""
    values = [r["license"] for r in files.select("license").distinct().collect()]
    rows = [(v, licenses.license_type(v, permissive), ", ".join(licenses.non_permissive_ids(v, permissive)))
            for v in values]
    return spark.createDataFrame(rows, "license string, license_type string, non_permissive string")


def annotate(ctx: StageContext, files, cfg: dict):
    """files + language, extension, license_type, reason, detail (reason null = kept)."""
    from pyspark.sql import functions as F

    from jobs import governance

    lic = license_types(ctx.spark, files, cfg["permissive"])
    df = (files.join(F.broadcast(lic), files["license"].eqNullSafe(lic["license"]), "left")
               .drop(lic["license"])
               .withColumn("_c", classify_udf(cfg["language_map"], cfg["excluded"], cfg["languages"])("path")))
    optout = governance.optout_filter(ctx)
    keep = sorted(cfg["keep_license_types"])
    lic_reason = (F.when(F.col("license_type").isin(keep), F.lit(None))
                   .when(F.col("license_type") == licenses.NO_LICENSE, F.lit(licenses.NO_LICENSE_REASON))
                   .otherwise(F.lit(licenses.LICENSE_NOT_PERMISSIVE)))
    lic_detail = (F.when(F.col("license_type") == licenses.NO_LICENSE,
                         F.lit(f"no license detected; license_policy keeps {keep}"))
                   .otherwise(F.format_string(f"license %s: %s not in select.permissive_licenses",
                                              F.col("license"), F.col("non_permissive"))))
    reason = F.when(optout if optout is not None else F.lit(False), F.lit(OPTED_OUT))
    detail = F.when(optout if optout is not None else F.lit(False), F.lit("repository or owner opted out"))
    reason = reason.when(F.col("_c.reason").isNotNull(), F.col("_c.reason")).otherwise(lic_reason)
    detail = detail.when(F.col("_c.reason").isNotNull(), F.col("_c.detail")).otherwise(
        F.when(lic_reason.isNotNull(), lic_detail))
    return (df.withColumn("language", F.col("_c.language")).withColumn("extension", F.col("_c.extension"))
              .withColumn("reason", reason).withColumn("detail", detail).drop("_c", "non_permissive"))


def run(ctx: StageContext) -> StageResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    cfg = settings(ctx.config)
    version_in = ctx.lake.version(INPUT)
    if version_in is None:
        from jobs.stage import UserError
        raise UserError(f"{INPUT} does not exist in {ctx.lake.root}: run ingest first")
    files = ctx.lake.read(INPUT, version=version_in)
    annotated = annotate(ctx, files, cfg).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        totals = annotated.agg(F.count("*").alias("n"), F.sum("size_bytes").alias("b"),
                               F.sum(F.when(F.col("reason").isNull(), F.col("size_bytes"))).alias("kept_b"),
                               F.count(F.when(F.col("reason").isNull(), 1)).alias("kept")).collect()[0]
        kept = annotated.filter(F.col("reason").isNull())
        rejected = annotated.filter(F.col("reason").isNotNull()).select(
            "file_id", "repo_name", "path", "reason", "detail", "size_bytes", "language")
        versions = {OUTPUT: ctx.lake.overwrite(kept, OUTPUT)}
        write_rejections(ctx, STAGE, rejected)
        versions["silver/rejections"] = ctx.lake.version("silver/rejections")
        by_reason = count_by_reason(rejected)
        langs = {r["language"]: r["count"] for r in kept.groupBy("language").count().collect()}
        types = {r["license_type"]: r["count"] for r in annotated.groupBy("license_type").count().collect()}
    finally:
        annotated.unpersist()
    return StageResult(
        rows_in=totals["n"], rows_kept=totals["kept"], rejected_by_reason=by_reason,
        bytes_in=totals["b"] or 0, bytes_kept=totals["kept_b"] or 0,
        versions_read={INPUT: version_in}, versions_written=versions,
        metrics={"languages_kept": str(len(langs)),
                 "files_per_language": ", ".join(f"{k}={v}" for k, v in sorted(langs.items(), key=lambda kv: -kv[1])),
                 "license_types_in": ", ".join(f"{k}={v}" for k, v in sorted(types.items())),
                 "language_map": cfg["language_map"]},
    )


if __name__ == "__main__":
    sys.exit(stage_main(STAGE, run, description=__doc__.splitlines()[0]))
