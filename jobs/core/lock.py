"""One writer per lake: every command that writes tables holds the lake's lock while it runs.

Two `codemill run`s (or a stage and an `optout apply`) on one lake at once would interleave
Delta versions of the same tables and publish each other's output. The lock is an exclusive
`flock` on `<lake>/_codemill.lock`, taken before Spark starts, so a second writer is refused
in well under a second with a message naming the holder (or waits, with `--wait SECONDS`).
The operating system drops the lock when its process ends, however it ends: a run killed
with SIGKILL leaves no stale lock, and the next run goes ahead (docs/operations.md).

Local lakes only: a lake on an object store has no flock; there one scheduler (the curation
DAG, `max_active_runs=1`) is the writer.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from jobs.core.errors import UserError
from jobs.core.logs import get_logger

log = get_logger(__name__)

LOCK_FILE = "_codemill.lock"


class LakeBusy(UserError):
    """Another process holds the lake's lock."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    return (f"`{info.get('command', '?')}` (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
            f"since {info.get('since', '?')})")


@contextlib.contextmanager
def lake_lock(lake_root: str | Path, command: str, wait_seconds: float = 0.0):
    """Hold the lake's write lock for the block. Refuse (LakeBusy) when another process holds
    it and it is not released within `wait_seconds`."""
    root = str(lake_root)
    if "://" in root and not root.startswith("file://"):
        yield  # object stores: no flock (see the module docstring)
        return
    root_path = Path(root.removeprefix("file://"))
    root_path.mkdir(parents=True, exist_ok=True)
    path = root_path / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(0.0, wait_seconds)
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(path)
                if time.monotonic() >= deadline:
                    hint = "wait for it to finish" if wait_seconds <= 0 else f"waited {wait_seconds:g} s"
                    raise LakeBusy(f"lake {root_path} is in use by {holder}: {hint}, or pass --wait SECONDS "
                                   f"to queue behind it (one writer per lake)") from None
                if not announced:
                    log.info("lake %s is in use by %s; waiting up to %g s", root_path, holder, wait_seconds)
                    announced = True
                time.sleep(0.5)
        info = {"command": command, "pid": os.getpid(), "host": socket.gethostname(),
                "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
