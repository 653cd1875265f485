"""The stages on a real Spark standalone cluster, started and stopped by this test.

A master and one worker run as separate JVMs from the venv's pyspark (`spark-class
...deploy.master.Master` / `...deploy.worker.Worker`, 1 core, 1 GiB), on loopback. Each stage
is submitted with `.venv/bin/spark-submit --master spark://... jobs/submit.py STAGE`, the code
shipped with `--py-files dist/codemill-<version>.zip` (`codemill package`). The executors run a
Python that has the pinned packages but not codemill: the venv's interpreter with `-S` and the
venv's site-packages on PYTHONPATH, so the editable install's path hook (a .pth file) never
runs, and the worker's environment and working directory do not hold the checkout. A pandas
UDF that imports udfs.* can only have found it in the shipped zip.

Asserted from the cluster itself: the master's JSON lists each stage as a finished
application, and the worker's work dir holds an executor folder per application whose stderr
shows tasks finished there. The tables are checked against tests/data/sample_manifest.yaml.
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
STAGES = ("ingest", "select", "filter", "dedup")


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
def cluster(tmp_path_factory):
    """Master + one worker (1 core, 1 GiB); both killed on teardown, also after a failure."""
    from jobs.core.session import cached_jars
    if not cached_jars():
        pytest.skip("jars not resolved: run `codemill setup`")
    tmp = tmp_path_factory.mktemp("cluster")
    port, ui, worker_ui = _free_port(), _free_port(), _free_port()
    work = tmp / "work"
    env = _bare_env(SPARK_DAEMON_MEMORY="256m", SPARK_LOG_DIR=str(tmp / "logs"))
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
        start("worker", "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--host", "127.0.0.1",
              "--cores", "1", "--memory", "1g", "--work-dir", str(work), "--webui-port", str(worker_ui))
        _wait("worker registration", lambda: _json(master_json).get("aliveworkers") == 1, 120, procs)
        yield {"url": f"spark://127.0.0.1:{port}", "json": master_json, "work": work, "tmp": tmp}
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


def _rejections(lake: Path, stage: str) -> set[tuple[str, str, str]]:
    from jobs.core.delta_read import query
    rows = query(str(lake / "silver" / "rejections"), "SELECT * FROM t").to_pylist()
    return {(r["repo_name"], r["path"], r["reason"]) for r in rows if r["stage"] == stage}


def _rows(lake: Path, name: str) -> int:
    from jobs.core.delta_read import query
    return query(str(lake / name), "SELECT count(*) AS n FROM t").column("n")[0].as_py()


def test_stages_run_on_a_standalone_cluster_with_shipped_code(cluster):
    from jobs.commands.package import build_zip
    tmp = cluster["tmp"]
    node_python = _node_python(tmp)
    # The node's Python has the dependencies but cannot import codemill (run from outside the checkout).
    probe = subprocess.run([str(node_python), "-c", "import pandas, pyarrow, pyspark, yaml; import udfs"],
                           cwd=tmp, env=_bare_env(), capture_output=True, text=True)
    assert "No module named 'udfs'" in probe.stderr, probe.stderr
    zip_path = build_zip(tmp / "dist")
    lake = tmp / "lake"

    timings = {}
    for stage in STAGES:
        cmd = [str(BIN / "spark-submit"), "--master", cluster["url"], "--driver-memory", "1g",
               "--conf", "spark.executor.memory=1g", "--conf", "spark.cores.max=1",
               "--conf", f"spark.pyspark.python={node_python}", "--conf", f"spark.pyspark.driver.python={sys.executable}",
               "--py-files", str(zip_path), str(ROOT / "jobs" / "submit.py"), stage, "--lake", str(lake),
               "--run-id", "cluster-1"]
        if stage == "ingest":
            cmd += ["--input", str(SAMPLE)]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=tmp, env=_bare_env(), capture_output=True, text=True, timeout=900)
        timings[stage] = round(time.monotonic() - started, 1)
        assert proc.returncode == 0, f"{stage}: {proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        assert f"OK   gate {stage}" in proc.stdout, proc.stdout
    print(f"cluster stage wall times (s): {timings}")

    # The master registered one application per stage, each finished, each with the worker's core.
    master = _json(cluster["json"])
    apps = {a["name"]: a for a in master["completedapps"]}
    assert {f"codemill-{s}" for s in STAGES} <= set(apps), sorted(apps)
    assert all(apps[f"codemill-{s}"]["state"] == "FINISHED" for s in STAGES)
    # The worker ran an executor for each application, and tasks finished in it.
    executor_logs = sorted(cluster["work"].glob("app-*/*/stderr"))
    assert {p.parent.parent.name for p in executor_logs} >= {apps[f"codemill-{s}"]["id"] for s in STAGES}
    for log in executor_logs:
        text = log.read_text(errors="replace")
        assert "Executor: Finished task" in text, f"{log}: {text[-2000:]}"
        assert "ModuleNotFoundError" not in text, f"{log}: {text[-2000:]}"

    counts = MANIFEST["counts"]
    assert _rows(lake, "bronze/quarantine") == counts["quarantined"]
    assert _rows(lake, "bronze/files") == counts["bronze_files"]
    for stage in ("select", "filter", "dedup"):
        expected = {(r["repo_name"], r["path"], r["reason"]) for r in MANIFEST["rejected"] if r["stage"] == stage}
        assert _rejections(lake, stage) == expected, stage
    assert _rows(lake, "silver/selected") == counts["bronze_files"] - counts["rejected_select"]
    assert _rows(lake, "silver/filtered") == _rows(lake, "silver/selected") - counts["rejected_filter"]
    assert _rows(lake, "silver/deduped") == _rows(lake, "silver/filtered") - counts["rejected_dedup"]


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
