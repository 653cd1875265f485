"""Select stage: bronze/files → silver/selected (language, license, opt-out).

    codemill select --lake DIR [--config FILE] [--run-id ID]

Adds `language`, `extension` (from the Linguist-derived map, configs/languages.json) and
`license_type` (permissive | non_permissive | no_license). Checks run in this order; the
first that fires is the rejection reason in silver/rejections:
  opted_out            repository or its owner is in governance/optout
  excluded_extension   one of the 36 extensions StarCoder excluded (docs/recipe.md §1.4)
  unknown_language     no filename rule or extension in the language map
  language_not_selected language not in select.languages
  no_license / license_not_permissive   license type not in select.license_policy
Opt-out comes first (a governance decision outranks everything); the language checks
come before the license, so a LICENSE file is unknown_language in every repository.
"""
from __future__ import annotations

from jobs.core.config import SelectConfig
from jobs.core.stage import Stage, StageContext, StageResult, keep_or_reject
from udfs import licenses

INPUT = "bronze/files"
OPTED_OUT = "opted_out"
CLASSIFY_DDL = "language string, extension string, reason string, detail string"


def classify_udf(map_path: str, excluded: frozenset, languages: frozenset | None):
    """Vectorized (pandas) UDF: path → struct(language, extension, reason, detail). The map is
    read here on the driver and travels in the UDF's closure: an executor on another machine
    has no file at the driver's path."""
    import pandas as pd
    from pyspark.sql.functions import PandasUDFType, pandas_udf

    from udfs.languages import load_map
    language_map = load_map(map_path)

    def classify(paths):
        from udfs.languages import classify_paths
        res = classify_paths(paths.tolist(), language_map, excluded, languages)
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


def annotate(ctx: StageContext, files, cfg: SelectConfig):
    """files + language, extension, license_type, reason, detail (reason null = kept)."""
    from pyspark.sql import functions as F

    from jobs.stages import governance

    permissive = frozenset(x.lower() for x in cfg.permissive_licenses)
    excluded = frozenset(e.lower().lstrip(".") for e in cfg.excluded_extensions)
    languages = None if cfg.languages is None else frozenset(cfg.languages)
    lic = license_types(ctx.spark, files, permissive)
    df = (files.join(F.broadcast(lic), files["license"].eqNullSafe(lic["license"]), "left")
               .drop(lic["license"])
               .withColumn("_c", classify_udf(str(cfg.language_map_path()), excluded, languages)("path")))
    optout = governance.optout_filter(ctx)
    keep = sorted(cfg.license_policy)
    lic_reason = (F.when(F.col("license_type").isin(keep), F.lit(None))
                   .when(F.col("license_type") == licenses.NO_LICENSE, F.lit(licenses.NO_LICENSE_REASON))
                   .otherwise(F.lit(licenses.LICENSE_NOT_PERMISSIVE)))
    lic_detail = (F.when(F.col("license_type") == licenses.NO_LICENSE,
                         F.lit(f"no license detected; license_policy keeps {keep}"))
                   .otherwise(F.format_string("license %s: %s not in select.permissive_licenses",
                                              F.col("license"), F.col("non_permissive"))))
    reason = F.when(optout if optout is not None else F.lit(False), F.lit(OPTED_OUT))
    detail = F.when(optout if optout is not None else F.lit(False), F.lit("repository or owner opted out"))
    reason = reason.when(F.col("_c.reason").isNotNull(), F.col("_c.reason")).otherwise(lic_reason)
    detail = detail.when(F.col("_c.reason").isNotNull(), F.col("_c.detail")).otherwise(
        F.when(lic_reason.isNotNull(), lic_detail))
    return (df.withColumn("language", F.col("_c.language")).withColumn("extension", F.col("_c.extension"))
              .withColumn("reason", reason).withColumn("detail", detail).drop("_c", "non_permissive"))


def run(ctx: StageContext) -> StageResult:
    from pyspark.sql import functions as F

    cfg = ctx.config.select
    annotated = annotate(ctx, ctx.read_input(INPUT), cfg)

    def figures(rows) -> dict:
        langs: dict[str, int] = {}
        types: dict[str, int] = {}
        for r in rows:
            types[str(r["license_type"])] = types.get(str(r["license_type"]), 0) + r["n"]
            if r["reason"] is None:
                langs[r["language"]] = langs.get(r["language"], 0) + r["n"]
        return {"languages_kept": str(len(langs)),
                "files_per_language": ", ".join(f"{k}={v}" for k, v in sorted(langs.items(), key=lambda kv: -kv[1])),
                "license_types_in": ", ".join(f"{k}={v}" for k, v in sorted(types.items())),
                "language_map": cfg.language_map}

    return keep_or_reject(ctx, STAGE, annotated, {"language": F.col("language"), "license_type": F.col("license_type")},
                          figures)


STAGE = Stage(
    name="select", inputs=(INPUT,), outputs=("silver/selected",), run=run,
    help="language (Linguist extension map), license and opt-out selection: bronze/files → silver/selected")
