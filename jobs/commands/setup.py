"""`codemill setup`: resolve the Spark jars once and configure this environment's spark-submit.

Three package sets are resolved from Maven Central into the local cache, each in its own JVM
(Spark resolves packages when its JVM starts): Delta Lake, which every session loads;
Delta + Spark NLP, which only sessions whose PII stage uses the `sparknlp` back-end load; and
Delta + Hadoop's S3A filesystem, for sessions whose lake or input is on S3 (s3a://, s3://)."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("setup", help="resolve the Delta (and Spark NLP) jars into the local cache and write "
                                             "spark-defaults.conf so plain spark-submit loads them",
                              description=__doc__)
    p.set_defaults(handler=handle)
    j = subparsers.add_parser("jars", help="print the cached jar files, comma-separated (for spark-submit --jars)")
    j.add_argument("--nlp", action="store_true", help="the set with Spark NLP (Delta included)")
    j.add_argument("--s3", action="store_true", help="the set with Hadoop's S3A filesystem (Delta included)")
    j.set_defaults(handler=handle_jars)


RESOLVE_ATTEMPTS = 4


def handle(args) -> int:
    import subprocess
    import sys
    import time

    from jobs.core.errors import UserError

    from jobs.core.session import cache_dir, cached_jars, install_spark_defaults, install_spark_home_hint
    sets = ((False, False), (True, False), (False, True))  # (nlp, s3)
    names = {(False, False): "Delta", (True, False): "Delta + Spark NLP", (False, True): "Delta + S3A"}
    if any(cached_jars(nlp, s3) is None for nlp, s3 in sets):
        # An older spark-defaults.conf would add its jars to the resolution's JVM.
        remove_spark_defaults()
    for nlp, s3 in sets:
        code = f"from jobs.core.session import get_spark; get_spark('codemill-setup', nlp={nlp}, s3={s3}).stop()"
        for attempt in range(1, RESOLVE_ATTEMPTS + 1):
            if cached_jars(nlp, s3) is not None:
                break
            # Ivy keeps what it downloaded, so a retry fetches only what a dropped connection lost.
            if subprocess.run([sys.executable, "-c", code]).returncode != 0:
                if attempt == RESOLVE_ATTEMPTS:
                    raise UserError(f"resolving the {names[nlp, s3]} jars from Maven Central "
                                    f"failed {attempt} times (see the resolution messages above)")
                print(f"jar resolution failed (attempt {attempt} of {RESOLVE_ATTEMPTS}); retrying", file=sys.stderr)
                time.sleep(5 * attempt)
        print(f"{len(cached_jars(nlp, s3))} jars ({names[nlp, s3]}) cached under {cache_dir()}")
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
    if args.nlp and args.s3:
        raise UserError("--nlp and --s3 name two jar sets: ask for one at a time and join them")
    jars = cached_jars(args.nlp, args.s3)
    if not jars:
        raise UserError("jars not resolved yet: run `codemill setup`")
    print(",".join(jars))
    return 0
