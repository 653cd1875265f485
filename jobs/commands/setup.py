"""`codemill setup`: resolve the Spark jars once and configure this environment's spark-submit."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("setup", help="resolve Delta + Spark NLP jars into the local cache and write "
                                             "spark-defaults.conf so plain spark-submit loads them")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from jobs.session import cache_dir, cached_jars, get_spark, install_spark_defaults, install_spark_home_hint
    spark = get_spark("codemill-setup")
    spark.stop()
    jars = cached_jars()
    print(f"{len(jars)} jars cached under {cache_dir()}")
    print(f"wrote {install_spark_defaults()}")
    hint = install_spark_home_hint()
    if hint:
        print(f"wrote SPARK_HOME into {hint} (this venv's spark-submit works without activating it)")
    return 0
