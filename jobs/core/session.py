"""The one SparkSession factory every job, check and test uses.

* Delta Lake (SQL extension + catalog) in every session; Spark NLP's jars only in sessions
  that need them (`get_spark(nlp=True)`: the PII stage's `sparknlp` model back-end). They are
  ~90 jars and ~300 MB on the classpath of every JVM otherwise.
* No master is hard-coded: under `spark-submit --master ...` the submitted master wins (the
  JVM already holds it, see _submitted_conf); run as plain Python it falls back to
  `local[*]` (or `CODEMILL_SPARK_MASTER`).
* The JVM packages come from Maven Central once; the resolved jar files are listed in a
  manifest per package set under `CODEMILL_CACHE` (default `~/.cache/codemill`) and later
  sessions load those files directly, so tests and CI need no network after the first
  resolution.

Why Spark 3.5: Maven Central carries Spark NLP only as `spark-nlp_2.12` (Scala 2.12,
latest 5.5.3), and Delta 3.3.x is the Delta line for Spark 3.5 / Scala 2.12.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from jobs.core.logs import get_logger

log = get_logger(__name__)

SCALA = "2.12"
DELTA_VERSION = "3.3.2"
SPARK_NLP_VERSION = "5.5.3"
# Spark NLP's model classes (e.g. BertClassification, used by BertForTokenClassification)
# name TensorFlow Java types in their method signatures. Spark Java-serializes the model's
# broadcast with its class descriptor, which resolves those signatures, so even the ONNX
# engine fails at task serialization ("NoClassDefFoundError:
# org/tensorflow/ndarray/buffer/IntDataBuffer") unless these classes are on the classpath.
# The pure-Java API jars from Maven Central are enough: nothing of TensorFlow is ever run,
# and its native library (javacpp) is excluded below.
TENSORFLOW_API = ("org.tensorflow:ndarray:0.3.3", "org.tensorflow:tensorflow-core-api:0.4.0")
CORE_PACKAGES = (f"io.delta:delta-spark_{SCALA}:{DELTA_VERSION}",)
NLP_PACKAGES = (f"com.johnsnowlabs.nlp:spark-nlp_{SCALA}:{SPARK_NLP_VERSION}",) + TENSORFLOW_API
PACKAGES = CORE_PACKAGES + NLP_PACKAGES
# S3A, Hadoop's S3 filesystem, for lakes and inputs on S3 or an S3-compatible store. Its
# version must be the Hadoop that pyspark ships (pyspark/jars/hadoop-client-api-3.3.4.jar;
# tests/test_object_store.py checks); it brings the AWS SDK bundle (~280 MB), so only
# sessions that touch an s3a:// or s3:// location load it.
HADOOP_VERSION = "3.3.4"
S3_PACKAGES = (f"org.apache.hadoop:hadoop-aws:{HADOOP_VERSION}",)
# Spark NLP declares native back-ends that are published only in John Snow Labs' own
# repository, not on Maven Central. codemill uses the rule annotators and the ONNX path,
# which do not need them.
EXCLUDES = tuple(f"com.johnsnowlabs.nlp:{name}_{SCALA}" for name in
                 ("tensorflow-cpu", "jsl-llamacpp-cpu", "jsl-openvino-cpu")) + ("org.bytedeco:javacpp",)

# Sized for a 2-core / 24 GB laptop; every value can be overridden with --conf or
# spark-defaults.conf on a real cluster (a value already set in the conf wins).
LOCAL_DEFAULTS = {
    "spark.driver.memory": os.environ.get("CODEMILL_DRIVER_MEMORY", "6g"),
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Files are large strings: small Arrow batches keep Python worker memory bounded.
    "spark.sql.execution.arrow.maxRecordsPerBatch": "1000",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # Spark NLP's onnxruntime (pii.model_backend: sparknlp) runs 6 threads per task by
    # default; with one task per core that oversubscribes a small machine several times over
    # (benchmarks/pii_model_backends.py: 120 s vs 18.7 s). One thread per task; raise it on
    # executors with spare cores per task.
    "spark.jsl.settings.onnx.intraOpNumThreads": "1",
    # Delta rebuilds a table's snapshot (its file list) with a shuffle into this many
    # partitions on every read and commit; Delta's default of 50 is sized for clusters. On 2
    # cores, 2 halves the fixed cost of each Delta operation (median of 6, 16k–27k-row
    # tables: overwrite 1.94 → 1.00 s, replaceWhere 1.55 → 0.95 s, read + count 1.08 → 0.43 s).
    "spark.databricks.delta.snapshotPartitions": "2",
}
REQUIRED = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Spark NLP's documented serializer settings.
    "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
    "spark.kryoserializer.buffer.max": "2000M",
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
}


def cache_dir() -> Path:
    return Path(os.environ.get("CODEMILL_CACHE", Path.home() / ".cache" / "codemill"))


def packages(nlp: bool, s3: bool = False) -> tuple[str, ...]:
    return (PACKAGES if nlp else CORE_PACKAGES) + (S3_PACKAGES if s3 else ())


def _manifest_path(nlp: bool, s3: bool = False) -> Path:
    key = hashlib.sha256(",".join(packages(nlp, s3) + EXCLUDES).encode()).hexdigest()[:12]
    return cache_dir() / f"jars-{key}.txt"


def cached_jars(nlp: bool = False, s3: bool = False) -> list[str] | None:
    """The resolved jar files of the package set (Delta; with Spark NLP when nlp, S3A when s3),
    or None when they were never resolved here."""
    manifest = _manifest_path(nlp, s3)
    if not manifest.exists():
        return None
    jars = [line.strip() for line in manifest.read_text().splitlines() if line.strip()]
    if not jars or not all(Path(j).exists() for j in jars):
        return None
    return jars


def _remember_jars(spark, nlp: bool, s3: bool) -> None:
    resolved = spark.sparkContext.getConf().get("spark.jars", "")
    jars = [j.removeprefix("file://").removeprefix("file:") for j in resolved.split(",") if j.endswith(".jar")]
    jars = list(dict.fromkeys(jars))  # spark.jars can name a jar twice (file: URI and path)
    if jars:
        manifest = _manifest_path(nlp, s3)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text("\n".join(jars) + "\n")


def _submitted_conf():
    """The settings the JVM was started with. Under spark-submit the Python driver connects
    to a JVM that already holds --master, --conf and spark-defaults.conf; a Python SparkConf
    sees them only once the gateway is up, so connect first (PYSPARK_GATEWAY_PORT is set by
    spark-submit). Run as plain Python there is no JVM yet: an empty conf, and the builder
    launches the JVM with codemill's settings (driver memory must be known at launch)."""
    from pyspark import SparkConf, SparkContext
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        SparkContext._ensure_initialized()
    return SparkConf()


def object_store_conf(environ=None) -> dict[str, str]:
    """Hadoop S3A settings from the standard AWS environment: the endpoint of an S3-compatible
    store (`AWS_ENDPOINT_URL`, path-style addressing, TLS off for http://), the region, and
    `s3://` mapped to S3A. Credentials are not copied into the conf (where the Spark UI and
    event logs would show them): S3A's default provider chain reads `AWS_ACCESS_KEY_ID` /
    `AWS_SECRET_ACCESS_KEY` from the environment, or an instance profile."""
    env = os.environ if environ is None else environ
    conf = {"spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem"}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        if endpoint.startswith("http://"):
            conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = "false"
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = region
    return conf


def get_spark(app_name: str = "codemill", extra_conf: dict[str, str] | None = None, nlp: bool = False,
              s3: bool = False):
    """Return the active session or build one with Delta (and Spark NLP when `nlp`, Hadoop's S3A
    filesystem when `s3`) loaded."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active

    # Python workers must run this interpreter (the venv's), not the system python3.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

    existing = _submitted_conf()
    builder = SparkSession.builder.appName(app_name)
    if not existing.contains("spark.master"):
        builder = builder.master(os.environ.get("CODEMILL_SPARK_MASTER", "local[*]"))
    settings = {**LOCAL_DEFAULTS, **(object_store_conf() if s3 else {}), **REQUIRED, **(extra_conf or {})}
    for key, value in settings.items():
        if not existing.contains(key) or key in REQUIRED:
            builder = builder.config(key, value)

    jars = cached_jars(nlp, s3)
    resolving = False
    if not existing.contains("spark.jars") and not existing.contains("spark.jars.packages"):
        if jars:
            builder = builder.config("spark.jars", ",".join(jars))
        else:
            resolving = True
            log.info("resolving %s from Maven Central (once)", ", ".join(packages(nlp, s3)))
            builder = (builder.config("spark.jars.packages", ",".join(packages(nlp, s3)))
                       .config("spark.jars.excludes", ",".join(EXCLUDES))
                       .config("spark.jars.ivy", str(cache_dir() / "ivy")))

    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("CODEMILL_SPARK_LOG_LEVEL", "WARN"))
    if resolving:
        _remember_jars(spark, nlp, s3)
    return spark


def has_spark_nlp(spark) -> bool:
    """Whether the session's JVM can load Spark NLP (its jars are on the classpath)."""
    # Jars of spark.jars live in Spark's own class loader, which java.lang.Class.forName called
    # through py4j does not search; Spark's Utils.classForName does.
    try:
        spark.sparkContext._jvm.org.apache.spark.util.Utils.classForName(
            "com.johnsnowlabs.nlp.DocumentAssembler", True, False)
        return True
    except Exception:  # noqa: BLE001 - py4j wraps the ClassNotFoundException
        return False


def spark_defaults_conf() -> str:
    """Lines for $SPARK_HOME/conf/spark-defaults.conf so a plain `spark-submit jobs/x.py`
    in this environment loads the same jars and extensions as get_spark() (Delta only: a
    stage that needs Spark NLP is submitted with `--jars "$(codemill jars --nlp)"`)."""
    jars = cached_jars(nlp=False)
    if not jars:
        raise RuntimeError("jars not resolved yet: run `codemill setup` first")
    lines = {**REQUIRED, "spark.jars": ",".join(jars),
             "spark.pyspark.python": sys.executable, "spark.pyspark.driver.python": sys.executable,
             "spark.driver.memory": LOCAL_DEFAULTS["spark.driver.memory"]}
    return "".join(f"{k} {v}\n" for k, v in lines.items())


SPARK_HOME_MARK = "# codemill setup: SPARK_HOME of this environment"


def install_spark_home_hint() -> Path | None:
    """Make this environment's own `spark-submit` (and pyspark's other launchers) find its Spark
    without the venv being activated, as a scheduler or a script calling `.venv/bin/spark-submit`
    does: pip's launchers source `find-spark-home`, which asks `python3` on PATH where pyspark
    is, and without the venv on PATH that interpreter has no pyspark. The line written at the
    top of the venv's `find-spark-home` sets SPARK_HOME to this interpreter's pyspark when it
    is unset. Returns the file changed, or None when there is none (pyspark not pip-installed)."""
    import pyspark

    script = Path(sys.executable).parent / "find-spark-home"
    if not script.is_file():
        return None
    home = Path(pyspark.__file__).resolve().parent
    line = (f'if [ -z "${{SPARK_HOME}}" ] && [ -d "{home}" ]; then export SPARK_HOME="{home}"; '
            f'return 0 2>/dev/null || exit 0; fi  {SPARK_HOME_MARK}\n')
    lines = [x for x in script.read_text().splitlines(keepends=True) if SPARK_HOME_MARK not in x]
    at = 1 if lines and lines[0].startswith("#!") else 0
    script.write_text("".join(lines[:at] + [line] + lines[at:]))
    return script


def install_spark_defaults() -> Path:
    """Write spark-defaults.conf into the pyspark installation this interpreter uses."""
    import pyspark

    conf_dir = Path(pyspark.__file__).parent / "conf"
    conf_dir.mkdir(exist_ok=True)
    target = conf_dir / "spark-defaults.conf"
    target.write_text("# written by `codemill setup` (jobs/core/session.py)\n" + spark_defaults_conf())
    return target
