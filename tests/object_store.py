"""An S3-compatible object store on loopback for the tests: moto's standalone server (PyPI's
`moto[server]`, a separate process speaking the S3 protocol over HTTP), started and stopped by
the `object_store` fixture (tests/conftest.py).

Clients find it the way they find a real S3-compatible store, through the standard environment:
AWS_ENDPOINT_URL (Spark's S3A, delta-rs and pyarrow all read it; jobs/core/session.py maps it to
fs.s3a.endpoint), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_REGION, and AWS_ALLOW_HTTP for
delta-rs over plain HTTP. The secret is random per run, so a test can assert it reached no log,
table or report.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BUCKET = "codemill-test"


@dataclass
class ObjectStore:
    endpoint: str
    env: dict[str, str]   # the AWS_* variables a client needs
    bucket: str

    def uri(self, key: str, scheme: str = "s3a") -> str:
        return f"{scheme}://{self.bucket}/{key.strip('/')}"

    def upload(self, folder: Path, key: str) -> int:
        """Copy a local folder under s3://bucket/key; returns the number of files."""
        from jobs.core.storage import Location
        return Location(self.uri(key)).upload(folder)

    def keys(self, prefix: str = "") -> list[str]:
        from pyarrow import fs as pafs

        from jobs.core.storage import Location
        filesystem, path = Location(self.uri(prefix)).arrow()
        return sorted(i.path for i in filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
                      if i.type == pafs.FileType.File)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(log_path: Path):
    """(ObjectStore, process) with one empty bucket; the caller stops the process (stop())."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited ({proc.returncode}): {log_path.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(endpoint, timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                stop(proc)
                raise TimeoutError("moto server did not answer within 60 s")
            time.sleep(0.3)
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "codemill-test",
           "AWS_SECRET_ACCESS_KEY": "secret-" + secrets.token_hex(12), "AWS_REGION": "us-east-1",
           "AWS_ALLOW_HTTP": "true", "AWS_EC2_METADATA_DISABLED": "true"}
    from pyarrow import fs as pafs
    pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", access_key=env["AWS_ACCESS_KEY_ID"],
                      secret_key=env["AWS_SECRET_ACCESS_KEY"], region="us-east-1",
                      allow_bucket_creation=True).create_dir(BUCKET)
    return ObjectStore(endpoint, env, BUCKET), proc


def stop(proc) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
