"""The whole pipeline on a real Spark standalone cluster with the lake on an object store, all
started and stopped by this test.

A master and two workers run as separate JVMs from the venv's pyspark (`spark-class
...deploy.master.Master` / `...deploy.worker.Worker`, 1 core, 1 GiB each), on loopback; the
lake and the input are on an S3-compatible server (moto, tests/object_store.py), reached
through Hadoop's S3A (`--jars "$(codemill jars --s3)"`). Airflow's curation DAG runs the
pipeline with its `spark_default` connection pointed at the master: each stage is
`.venv/bin/spark-submit --master spark://... --py-files dist/codemill-<version>.zip --jars ...
jobs/submit.py STAGE --no-gate --lake s3a://...` (the zip from `codemill package`), each gate
`codemill check STAGE` on the lake in the store; the training DAG then trains on the pinned
gold/tokens version, read from the store. The executors run a
Python that has the pinned packages but not codemill: the venv's interpreter with `-S` and the
venv's site-packages on PYTHONPATH, so the editable install's path hook (a .pth file) never
runs, and the worker's environment and working directory do not hold the checkout. A pandas
UDF that imports udfs.* can only have found it in the shipped zip.

Asserted from the cluster itself: the master's JSON lists each stage as a finished
application, and both workers' work dirs hold executor folders whose stderr shows tasks
finished there. The tables equal the local run's record (tests/data/sample_run_manifest.json:
file ids per table, content hashes of gold/files and the training documents, the token
sequences) and the rejections tests/data/sample_manifest.yaml.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SAMPLE = ROOT / "tests" / "data" / "sample_corpus"
MANIFEST = yaml.safe_load((ROOT / "tests" / "data" / "sample_manifest.yaml").read_text(encoding="utf-8"))
STAGES = ("ingest", "select", "filter", "dedup", "pii", "decontaminate", "format", "tokenize")
WORKERS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _json(url: str):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def _wait(what: str, check, timeout: float, procs) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc, log in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}) while waiting for {what}: "
                                   f"{Path(log).read_text()[-2000:]}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"cluster: {what} not within {timeout:.0f} s")


def _node_python(tmp: Path) -> Path:
    """A worker node's Python: the pinned packages, no codemill. The venv's site-packages goes on
    PYTHONPATH, where .pth files (the editable install's finder) are not processed, and `-S`
    keeps site from processing them."""
    import sysconfig
    site = sysconfig.get_paths()["purelib"]
    wrapper = tmp / "node-python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{site}" exec {sys.executable} -S "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _bare_env(**extra) -> dict[str, str]:
    import pyspark
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
           "SPARK_HOME": str(Path(pyspark.__file__).resolve().parent)}
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, object_store):
    """Master + two workers (1 core, 1 GiB each); all killed on teardown, also after a failure.
    The workers hold the object store's AWS_* variables, as a cluster's nodes hold credentials
    (an instance profile); their executors and Python workers inherit them."""
    from jobs.core.session import cached_jars
    if not cached_jars() or not cached_jars(s3=True):
        pytest.skip("jars not resolved: run `codemill setup`")
    tmp = tmp_path_factory.mktemp("cluster")
    port, ui = _free_port(), _free_port()
    env = _bare_env(SPARK_DAEMON_MEMORY="256m", SPARK_LOG_DIR=str(tmp / "logs"), **object_store.env)
    procs = []

    def start(name, *args):
        log = tmp / f"{name}.log"
        proc = subprocess.Popen([str(BIN / "spark-class"), *args], cwd=tmp, env=env, stdout=open(log, "wb"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        procs.append((name, proc, log))

    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
              "--webui-port", str(ui))
        master_json = f"http://127.0.0.1:{ui}/json/"
        _wait("master UI", lambda: _json(master_json).get("status") == "ALIVE", 120, procs)
        works = [tmp / f"work-{i}" for i in range(WORKERS)]
        for i, work in enumerate(works):
            start(f"worker-{i}", "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                  "--host", "127.0.0.1", "--cores", "1", "--memory", "1g", "--work-dir", str(work),
                  "--webui-port", str(_free_port()))
        _wait("worker registration", lambda: _json(master_json).get("aliveworkers") == WORKERS, 120, procs)
        yield {"url": f"spark://127.0.0.1:{port}", "json": master_json, "works": works, "tmp": tmp,
               "store": object_store}
    finally:
        for _, proc, _ in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc, _ in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _rejections(lake: str, stage: str) -> set[tuple[str, str, str]]:
    from jobs.core.delta_read import query
    rows = query(f"{lake}/silver/rejections", "SELECT * FROM t").to_pylist()
    return {(r["repo_name"], r["path"], r["reason"]) for r in rows if r["stage"] == stage}


def test_the_curation_dag_runs_on_a_standalone_cluster_with_shipped_code_and_the_lake_on_an_object_store(cluster):
    """Airflow's curation DAG with `spark_default` pointed at the master: every stage a
    spark-submit to spark://... (--py-files the project zip, --jars the S3A jars, the node's
    Python for the executors), every gate its own task; then the training DAG trains on the
    gold/tokens version of the asset event, read from the object store."""
    from airflow_harness import AIRFLOW_PY, AIRFLOW_VENV, DAGS, RUN_DAGS, airflow_env, run_airflow_python
    from run_manifest import run_manifest

    from jobs.commands.package import build_zip
    from jobs.core.session import cached_jars
    if not AIRFLOW_PY.exists():
        pytest.skip(f"no Airflow venv at {AIRFLOW_VENV}: run scripts/setup_airflow.sh")
    tmp, store = cluster["tmp"], cluster["store"]
    node_python = _node_python(tmp)
    # The node's Python has the dependencies but cannot import codemill (run from outside the checkout).
    probe = subprocess.run([str(node_python), "-c", "import pandas, pyarrow, pyspark, yaml; import udfs"],
                           cwd=tmp, env=_bare_env(), capture_output=True, text=True)
    assert "No module named 'udfs'" in probe.stderr, probe.stderr
    zip_path = build_zip(tmp / "dist")
    store.upload(SAMPLE, "cluster/raw")
    lake = store.uri("cluster/lake")
    workspace = tmp / "workspace"

    home = tmp / "airflow_home"
    env = airflow_env(home, spark_master=cluster["url"], CODEMILL_WORKSPACE=str(workspace), **store.env)
    migrate = subprocess.run([str(AIRFLOW_VENV / "bin" / "airflow"), "db", "migrate"], env=env,
                             capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    conf = {"lake": lake, "input": store.uri("cluster/raw"), "run_id": "cluster-1", "driver_memory": "1g",
            "data_docs": False, "py_files": str(zip_path), "jars": ",".join(cached_jars(s3=True)),
            "executor_python": str(node_python)}
    spec = {"dags_folder": str(DAGS), "runs": [{"dag_id": "codemill_curation", "conf": conf},
                                               {"dag_id": "codemill_training", "conf": {}}]}
    log = tmp / "harness.log"
    curated, trained = run_airflow_python(home, RUN_DAGS, json.dumps(spec), timeout=3000, log=log, env=env)
    print(f"on the cluster: curation DAG {curated['seconds']:.0f} s, training DAG {trained['seconds']:.0f} s "
          f"(log: {log})")
    assert curated["state"] == "success", curated["tasks"]
    assert set(curated["tasks"].values()) == {"success"}, curated["tasks"]
    assert store.env["AWS_SECRET_ACCESS_KEY"] not in log.read_text(errors="replace")

    # The master registered one application per stage, each finished.
    master = _json(cluster["json"])
    apps = {a["name"]: a for a in master["completedapps"]}
    assert {f"codemill-{s}" for s in STAGES} <= set(apps), sorted(apps)
    assert all(apps[f"codemill-{s}"]["state"] == "FINISHED" for s in STAGES)
    # Every application's tasks finished in executors of the workers, and both workers ran some
    # (which executor takes a task is the scheduler's choice, so not both for every stage).
    ran = {}
    for work in cluster["works"]:
        for stderr in sorted(work.glob("app-*/*/stderr")):
            text = stderr.read_text(errors="replace")
            assert "ModuleNotFoundError" not in text, f"{stderr}: {text[-2000:]}"
            if "Executor: Finished task" in text:
                ran.setdefault(stderr.parent.parent.name, set()).add(work.name)
    assert all(ran.get(apps[f"codemill-{s}"]["id"]) for s in STAGES), ran
    assert set().union(*ran.values()) == {w.name for w in cluster["works"]}, ran

    # The same tables as a local run of the same input.
    recorded = json.loads((ROOT / "tests" / "data" / "sample_run_manifest.json").read_text())
    assert run_manifest(lake) == recorded
    for stage in ("select", "filter", "dedup"):
        expected = {(r["repo_name"], r["path"], r["reason"]) for r in MANIFEST["rejected"] if r["stage"] == stage}
        assert _rejections(lake, stage) == expected, stage

    # Training read gold/tokens at the version the asset event pinned, from the object store.
    from jobs.core.publish import published_version
    (event,) = curated["gold_token_events"]
    assert event["extra"]["lake"] == lake and event["extra"]["version"] == published_version(lake, "gold/tokens")
    assert trained["state"] == "success", trained["tasks"]
    out = workspace / "runs" / f"train-gold-tokens-v{event['extra']['version']}"
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["table_version"] == event["extra"]["version"]
    assert json.loads((out / "airflow_lineage.json").read_text())["gold_tokens"]["lake"] == lake


def test_without_the_shipped_zip_the_executors_cannot_import_codemill(cluster):
    """The control: the same submit without --py-files fails in the executors, so the passing
    runs above imported codemill from the zip, not from anything on the node."""
    tmp = cluster["tmp"]
    cmd = [str(BIN / "spark-submit"), "--master", cluster["url"], "--driver-memory", "1g",
           "--conf", "spark.executor.memory=1g", "--conf", "spark.cores.max=1", "--conf", "spark.task.maxFailures=1",
           "--conf", f"spark.pyspark.python={_node_python(tmp)}", "--conf", f"spark.pyspark.driver.python={sys.executable}",
           str(ROOT / "jobs" / "submit.py"), "ingest", "--lake", str(tmp / "lake-no-zip"), "--input", str(SAMPLE)]
    proc = subprocess.run(cmd, cwd=tmp, env=_bare_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0, proc.stdout[-2000:]
    # The executor's Python worker fails unpickling the stage's function (jobs.stages.ingest).
    assert re.search(r"ModuleNotFoundError: No module named '(jobs|udfs)'", proc.stderr + proc.stdout), \
        proc.stderr[-4000:]
