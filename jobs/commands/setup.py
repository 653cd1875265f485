"""`codemill setup`: resolve the Spark jars once and configure this environment's spark-submit.

Two package sets are resolved from Maven Central into the local cache, each in its own JVM
(Spark resolves packages when its JVM starts): Delta Lake, which every session loads, and
Delta + Spark NLP, which only sessions whose PII stage uses the `sparknlp` back-end load."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("setup", help="resolve the Delta (and Spark NLP) jars into the local cache and write "
                                             "spark-defaults.conf so plain spark-submit loads them",
                              description=__doc__)
    p.set_defaults(handler=handle)
    j = subparsers.add_parser("jars", help="print the cached jar files, comma-separated (for spark-submit --jars)")
    j.add_argument("--nlp", action="store_true", help="the set with Spark NLP (Delta included)")
    j.set_defaults(handler=handle_jars)


RESOLVE_ATTEMPTS = 4


def handle(args) -> int:
    import subprocess
    import sys
    import time

    from jobs.core.errors import UserError

    from jobs.core.session import cache_dir, cached_jars, install_spark_defaults, install_spark_home_hint
    if cached_jars(False) is None or cached_jars(True) is None:
        # An older spark-defaults.conf would add its jars to the resolution's JVM.
        remove_spark_defaults()
    for nlp in (False, True):
        code = f"from jobs.core.session import get_spark; get_spark('codemill-setup', nlp={nlp}).stop()"
        for attempt in range(1, RESOLVE_ATTEMPTS + 1):
            if cached_jars(nlp) is not None:
                break
            # Ivy keeps what it downloaded, so a retry fetches only what a dropped connection lost.
            if subprocess.run([sys.executable, "-c", code]).returncode != 0:
                if attempt == RESOLVE_ATTEMPTS:
                    raise UserError(f"resolving the {'Delta + Spark NLP' if nlp else 'Delta'} jars from Maven Central "
                                    f"failed {attempt} times (see the resolution messages above)")
                print(f"jar resolution failed (attempt {attempt} of {RESOLVE_ATTEMPTS}); retrying", file=sys.stderr)
                time.sleep(5 * attempt)
        print(f"{len(cached_jars(nlp))} jars ({'Delta + Spark NLP' if nlp else 'Delta'}) cached under {cache_dir()}")
    print(f"wrote {install_spark_defaults()}")
    hint = install_spark_home_hint()
    if hint:
        print(f"wrote SPARK_HOME into {hint} (this venv's spark-submit works without activating it)")
    return 0


def remove_spark_defaults() -> None:
    from pathlib import Path

    import pyspark
    (Path(pyspark.__file__).parent / "conf" / "spark-defaults.conf").unlink(missing_ok=True)


def handle_jars(args) -> int:
    from jobs.core.errors import UserError
    from jobs.core.session import cached_jars
    jars = cached_jars(args.nlp)
    if not jars:
        raise UserError("jars not resolved yet: run `codemill setup`")
    print(",".join(jars))
    return 0
