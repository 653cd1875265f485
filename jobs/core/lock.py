"""One writer per lake: every command that writes tables holds the lake's lock while it runs.

Two `codemill run`s (or a stage and an `optout apply`) on one lake at once would interleave
Delta versions of the same tables and publish each other's output. The lock is an exclusive
`flock` on `<lake>/_codemill.lock`, taken before Spark starts, so a second writer is refused
in well under a second with a message naming the holder (or waits, with `--wait SECONDS`).
The operating system drops the lock when its process ends, however it ends: a run killed
with SIGKILL leaves no stale lock, and the next run goes ahead (docs/operations.md).

A lake on an object store or HDFS has no flock. There the lock is a one-row Delta table,
`<lake>/_codemill_lock`, written by delta-rs: taking or renewing it is an overwrite of the
version just read, and of several writers racing for the same next version the store lets
exactly one commit (S3's conditional writes, If-None-Match, which delta-rs uses for every
commit), so only one takes the lock. The holder renews a lease (`CODEMILL_LOCK_LEASE_SECONDS`,
default 120) from a background thread; a process that dies stops renewing, and its lock frees
itself when the lease runs out (a later writer is told when). This guards codemill against
codemill: Spark's own Delta writes to S3 (S3SingleDriverLogStore) are safe only from one
driver at a time, which is what the lock ensures (docs/cluster.md).
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


def _holder_info(command: str) -> dict:
    return {"command": command, "pid": os.getpid(), "host": socket.gethostname(),
            "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


@contextlib.contextmanager
def lake_lock(lake_root, command: str, wait_seconds: float = 0.0):
    """Hold the lake's write lock for the block. Refuse (LakeBusy) when another process holds
    it and it is not released within `wait_seconds`."""
    from jobs.core.storage import Location
    root = Location(lake_root)
    if not root.is_local:
        with RemoteLock(root, command).held(wait_seconds):
            yield
        return
    root_path = root.local
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
        info = _holder_info(command)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


REMOTE_LOCK_TABLE = "_codemill_lock"


def lease_seconds() -> float:
    return float(os.environ.get("CODEMILL_LOCK_LEASE_SECONDS", "120"))


class RemoteLock:
    """The lock of a lake on a remote filesystem (module docstring): a one-row Delta table whose
    every change is a compare-and-swap on its version."""

    def __init__(self, root, command: str, lease: float | None = None):
        self.uri = f"{root}/{REMOTE_LOCK_TABLE}"
        self.root, self.command = root, command
        self.lease = lease_seconds() if lease is None else float(lease)
        self.token = os.urandom(8).hex()
        self.lost = False

    @staticmethod
    def _schema():
        import pyarrow as pa
        return pa.schema([pa.field("state", pa.string(), False), pa.field("token", pa.string(), False),
                          pa.field("holder", pa.string(), False), pa.field("expires_at", pa.float64(), False)])

    def _read(self):
        """(the table as last committed, its row) - (None, None) when the table does not exist."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        from jobs.core.delta_read import query
        try:
            table = DeltaTable(self.uri)
        except TableNotFoundError:
            return None, None
        rows = query(self.uri, "SELECT * FROM t", version=table.version()).to_pylist()
        return table, (rows[0] if rows else None)

    def _swap(self, table, state: str) -> bool:
        """Replace the row read with `table` by ours; False when another writer committed first."""
        import pyarrow as pa
        from deltalake import write_deltalake
        row = {"state": state, "token": self.token, "holder": json.dumps(_holder_info(self.command)),
               "expires_at": time.time() + self.lease}
        try:
            write_deltalake(table, pa.Table.from_pylist([row], schema=self._schema()), mode="overwrite")
        except Exception as err:  # noqa: BLE001 - CommitFailedError: another writer committed this version
            log.debug("lock %s: lost a race (%s)", self.uri, type(err).__name__)
            return False
        if (table.version() + 1) % 50 == 0:
            from deltalake import DeltaTable
            DeltaTable(self.uri).create_checkpoint()  # keeps the log a reader replays short
        return True

    def _create(self) -> None:
        """Create the lock table, free. Racing creators may all succeed on a store without atomic
        create (each writes a free row as version 0); taking the lock is always an overwrite of a
        version read, which the store's conditional commit lets exactly one writer make."""
        import pyarrow as pa
        from deltalake import write_deltalake
        row = {"state": "free", "token": "", "holder": "", "expires_at": 0.0}
        try:
            write_deltalake(self.uri, pa.Table.from_pylist([row], schema=self._schema()), mode="error")
        except Exception as err:  # noqa: BLE001 - a racing creator made it first
            log.debug("lock %s: created by another writer (%s)", self.uri, type(err).__name__)

    def acquire(self, wait_seconds: float = 0.0) -> None:
        deadline = time.monotonic() + max(0.0, wait_seconds)
        announced = False
        while True:
            table, row = self._read()
            if table is None:
                self._create()
                continue
            free = row is None or row["state"] != "held" or row["expires_at"] < time.time()
            if free and self._swap(table, "held"):
                return
            if not free:
                holder = _describe(row)
                if time.monotonic() >= deadline:
                    hint = "wait for it to finish" if wait_seconds <= 0 else f"waited {wait_seconds:g} s"
                    until = dt.datetime.fromtimestamp(row["expires_at"], dt.timezone.utc).isoformat(timespec="seconds")
                    raise LakeBusy(f"lake {self.root} is in use by {holder}: {hint}, or pass --wait SECONDS to queue "
                                   f"behind it (one writer per lake). If that process is gone, its lease runs out at "
                                   f"{until} and the lock frees itself")
                if not announced:
                    log.info("lake %s is in use by %s; waiting up to %g s", self.root, holder, wait_seconds)
                    announced = True
            time.sleep(0.5 if free else min(2.0, max(0.2, self.lease / 10)))

    def renew(self) -> bool:
        """Extend our lease; False (and `lost`) when the lock is no longer ours."""
        table, row = self._read()
        if row is None or row["token"] != self.token or row["state"] != "held":
            self.lost = True
            return False
        if not self._swap(table, "held"):
            return self.renew()  # a racing writer found the lock held and backed off; read again
        return True

    def release(self) -> None:
        table, row = self._read()
        if row is not None and row["token"] == self.token and not self._swap(table, "free"):
            self.release()

    @contextlib.contextmanager
    def held(self, wait_seconds: float = 0.0):
        import threading
        self.acquire(wait_seconds)
        stop = threading.Event()

        def heartbeat():
            while not stop.wait(self.lease / 4):
                try:
                    if not self.renew():
                        log.error("lake %s: the write lock was taken over (this process did not renew its lease "
                                  "in time); another writer may now be writing", self.root)
                        return
                except Exception as err:  # noqa: BLE001 - a flaky store: try again at the next beat
                    log.warning("lake %s: renewing the write lock failed (%s); retrying", self.root,
                                type(err).__name__)

        beat = threading.Thread(target=heartbeat, name="codemill-lake-lock", daemon=True)
        beat.start()
        try:
            yield self
        finally:
            stop.set()
            beat.join(timeout=30)
            self.release()


def _describe(row: dict) -> str:
    try:
        info = json.loads(row["holder"])
    except (TypeError, ValueError):
        return "another process"
    return (f"`{info.get('command', '?')}` (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
            f"since {info.get('since', '?')})")
