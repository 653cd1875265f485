"""Lakes and inputs on an object store: `jobs/core/storage.Location`, the S3A settings, and the
whole pipeline run as a user runs it (`codemill run --input s3a://… --lake s3a://…`) against
an S3-compatible server on loopback (moto's standalone server, tests/object_store.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.core.errors import UserError
from jobs.core.storage import Location, workspace_for

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "sample_corpus"


# ---- Location, without a store ----------------------------------------------------------------

def test_a_local_path_and_file_uri_are_the_same_location(tmp_path):
    assert Location(tmp_path) == Location(f"file://{tmp_path}") == str(tmp_path)
    assert Location(tmp_path).is_local and os.fspath(Location(tmp_path)) == str(tmp_path)
    assert str(Location(tmp_path) / "ops" / "runs") == str(tmp_path / "ops" / "runs")
    # a file:// URI is percent-encoded (as delta-rs and browsers write them); a plain path is not
    assert Location(f"file://{tmp_path}/my%20lake").local == tmp_path / "my lake"
    assert Location(tmp_path / "100%25").local.name == "100%25"


def test_uris_keep_their_scheme_and_join_with_slashes():
    lake = Location("s3a://bucket/lake/")
    assert str(lake) == "s3a://bucket/lake" and lake.is_s3 and not lake.is_local
    assert str(lake / "gold/tokens") == "s3a://bucket/lake/gold/tokens"
    assert (lake / "gold" / "tokens").name == "tokens" and str(lake.parent) == "s3a://bucket"
    assert str(Location("hdfs://namenode:8020/data/lake")) == "hdfs://namenode:8020/data/lake"
    with pytest.raises(UserError, match="not on the local disk"):
        os.fspath(lake)  # open(), shutil on a remote location fail with a message, not a stray local path


def test_unknown_schemes_and_credentials_in_a_uri_are_refused_without_echoing_them():
    with pytest.raises(UserError, match="unsupported filesystem ftp://"):
        Location("ftp://host/x")
    with pytest.raises(UserError) as err:
        Location("s3a://AKIAEXAMPLE:hunter2secret@bucket/lake")
    assert "hunter2secret" not in str(err.value) and "AKIAEXAMPLE" not in str(err.value)


def test_a_remote_lakes_workspace_is_local_and_configurable(tmp_path, monkeypatch):
    monkeypatch.delenv("CODEMILL_WORKSPACE", raising=False)
    assert workspace_for(Location(tmp_path)) == tmp_path  # a local lake keeps everything in its folder
    monkeypatch.chdir(tmp_path)
    assert workspace_for(Location("s3a://bucket/lake")) == tmp_path / "codemill-workspace" / "s3a" / "bucket" / "lake"
    monkeypatch.setenv("CODEMILL_WORKSPACE", str(tmp_path / "ws"))
    assert workspace_for(Location("s3a://bucket/lake")) == tmp_path / "ws"


def test_s3a_settings_come_from_the_aws_environment_without_the_credentials():
    from jobs.core.session import object_store_conf
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1",
           "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "topsecretvalue"}
    conf = object_store_conf(env)
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-1"
    assert conf["spark.hadoop.fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert not any(v in "".join(conf.values()) for v in ("AKIDEXAMPLE", "topsecretvalue"))
    assert "spark.hadoop.fs.s3a.endpoint" not in object_store_conf({})  # real S3: S3A's own default


def test_hadoop_aws_matches_the_hadoop_pyspark_ships():
    import pyspark
    from jobs.core.session import HADOOP_VERSION
    jars = {p.name for p in (Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar")}
    assert jars == {f"hadoop-client-api-{HADOOP_VERSION}.jar"}


# ---- on the store --------------------------------------------------------------------------------

def test_location_reads_writes_lists_and_removes_on_the_store(object_store, tmp_path):
    from pyarrow import fs as pafs
    filesystem, path = Location(object_store.uri("unit/x")).arrow()  # pyarrow has s3://, not Hadoop's s3a://
    assert isinstance(filesystem, pafs.S3FileSystem) and path == f"{object_store.bucket}/unit/x"
    base = Location(object_store.uri("unit/location"))
    assert not base.exists()
    (base / "a" / "x.txt").write_text("hello")
    (base / "b.bin").write_bytes(b"\x00\x01")
    assert base.is_dir() and (base / "a" / "x.txt").is_file() and (base / "a").is_dir()
    assert (base / "a" / "x.txt").read_text() == "hello"
    assert [p.name for p in base.iterdir()] == ["a", "b.bin"]
    folder = tmp_path / "up"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "f.py").write_text("print(1)\n")
    assert (base / "up").upload(folder) == 1
    assert (base / "up" / "deep" / "f.py").read_text() == "print(1)\n"
    base.rmtree()
    assert not base.exists()


@pytest.mark.slow
def test_codemill_run_with_input_and_lake_on_the_object_store(object_store, tmp_path):
    """The README's object-store command, end to end: every stage and gate reads and writes the
    store through S3A, the driver-side checks and ops tables through delta-rs, and the trainer
    streams gold/tokens from it. The tables equal the local run's record
    (tests/data/sample_run_manifest.json), the non-table files are in the local workspace, and
    the store's secret key is in no output, report or table."""
    from run_manifest import run_manifest
    from jobs.core.session import cached_jars
    if not cached_jars(s3=True):
        pytest.skip("S3A jars not resolved: run `codemill setup`")

    assert object_store.upload(SAMPLE, "run/raw") > 50
    raw, lake = object_store.uri("run/raw"), object_store.uri("run/lake")
    workspace = tmp_path / "workspace"
    env = {**os.environ, **object_store.env, "CODEMILL_WORKSPACE": str(workspace)}
    proc = subprocess.run([str(Path(sys.executable).parent / "codemill"), "run", "--input", raw, "--lake", lake,
                           "--train-steps", "2"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert f"{lake}/gold/tokens@v0 streamed" in output  # the trainer read the store

    recorded = json.loads((ROOT / "tests" / "data" / "sample_run_manifest.json").read_text())
    assert run_manifest(lake) == recorded

    assert (workspace / "reports" / "data_docs" / "index.html").is_file()
    assert list((workspace / "reports").glob("run-*.html")) and (workspace / "reports" / "dataset_card.md").is_file()
    assert (workspace / "tokenizer" / "tokenizer.json").is_file()
    assert not (tmp_path / "lake").exists()  # nothing fell back to a local ./lake
    keys = object_store.keys("run/lake")
    assert any(k.endswith("gold/tokens/_delta_log/00000000000000000000.json") for k in keys)
    assert not any("/gx/" in k or "/reports/" in k for k in keys)
    # ... and a copy of the reports beside the tables (quality.reports_to_lake)
    assert any(k.endswith("run/lake/_reports/data_docs/index.html") for k in keys)
    assert any(k.endswith("run/lake/_reports/dataset_card.md") for k in keys)
    assert f"reports copied to {lake}/_reports" in output

    secret = object_store.env["AWS_SECRET_ACCESS_KEY"]
    assert secret not in output
    for path in workspace.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".md", ".json", ".yml", ".yaml", ".txt"):
            assert secret not in path.read_text(errors="replace"), path
    from jobs.core.delta_read import query
    for table in ("ops/runs", "ops/dq_results", "ops/published"):
        assert secret not in json.dumps(query(f"{lake}/{table}", "SELECT * FROM t").to_pylist(), default=str)


# ---- one writer per lake on the store (jobs/core/lock.py: RemoteLock) ------------------------------

def _lock(store, key: str, command: str, lease: float = 30.0):
    from jobs.core.lock import RemoteLock
    return RemoteLock(Location(store.uri(key)), command, lease=lease)


def test_a_second_writer_is_refused_naming_the_first_until_it_releases(object_store):
    from jobs.core.lock import LakeBusy
    first, second = _lock(object_store, "locks/a", "codemill run"), _lock(object_store, "locks/a", "codemill pii")
    with first.held():
        with pytest.raises(LakeBusy, match=r"in use by `codemill run` \(pid"):
            second.acquire()
    second.acquire()  # released: free again
    second.release()


def test_of_writers_racing_for_a_free_lock_exactly_one_takes_it(object_store):
    import threading

    from jobs.core.lock import LakeBusy
    locks = [_lock(object_store, "locks/race", f"writer {i}") for i in range(4)]
    barrier, outcome = threading.Barrier(len(locks)), {}

    def take(lock):
        barrier.wait()
        try:
            lock.acquire()
            outcome[lock.command] = "held"
        except LakeBusy:
            outcome[lock.command] = "refused"
    threads = [threading.Thread(target=take, args=(lock,)) for lock in locks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome.values()) == ["held", "refused", "refused", "refused"], outcome


def test_a_dead_holders_lease_runs_out_and_a_live_holder_keeps_renewing(object_store):
    import time

    from jobs.core.lock import LakeBusy
    dead = _lock(object_store, "locks/lease", "killed run", lease=1.0)
    dead.acquire()  # taken, never renewed: as if the process was killed
    time.sleep(1.3)
    alive = _lock(object_store, "locks/lease", "next run", lease=1.0)
    with alive.held():
        assert not dead.renew() and dead.lost  # the dead holder's lock is gone
        time.sleep(2.5)  # more than two leases: the heartbeat keeps it
        with pytest.raises(LakeBusy, match="next run"):
            _lock(object_store, "locks/lease", "third").acquire()
