"""One writer per lake (jobs/core/lock.py): a second writer is refused with the holder's name,
or waits; a SIGKILLed holder leaves no stale lock. No Spark: the lock is taken before it starts."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.core.lock import LOCK_FILE, LakeBusy, lake_lock

HOLDER = """
import sys, time
from jobs.core.lock import lake_lock
with lake_lock(sys.argv[1], "codemill run"):
    print("held", flush=True)
    time.sleep(600)
"""


def _hold(lake: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lake)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_naming_the_holder_and_a_killed_holder_frees_the_lake(tmp_path):
    lake = tmp_path / "lake"
    holder = _hold(lake)
    try:
        with pytest.raises(LakeBusy) as err:
            with lake_lock(lake, "codemill dedup"):
                pytest.fail("the lock was granted while another process held it")
        message = str(err.value)
        assert "codemill run" in message and f"pid {holder.pid}" in message and "--wait" in message
        # Waiting: still refused while the holder lives, with how long it waited.
        t0 = time.monotonic()
        with pytest.raises(LakeBusy, match="waited 1 s"):
            with lake_lock(lake, "codemill dedup", wait_seconds=1):
                pass
        assert time.monotonic() - t0 >= 1
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # no cleanup code of the holder runs
        holder.wait()
    with lake_lock(lake, "codemill dedup"):
        assert "codemill dedup" in (lake / LOCK_FILE).read_text()
    # Released on exit of the block: the same process takes it again.
    with lake_lock(lake, "codemill run"):
        pass


def test_a_waiting_writer_goes_ahead_when_the_holder_ends(tmp_path):
    lake = tmp_path / "lake"
    holder = _hold(lake)
    subprocess.Popen(["sh", "-c", f"sleep 1; kill -9 {holder.pid}"])
    try:
        t0 = time.monotonic()
        with lake_lock(lake, "codemill run", wait_seconds=60):
            waited = time.monotonic() - t0
        assert 0.5 <= waited < 30
    finally:
        holder.kill()
        holder.wait()


def test_codemill_run_on_a_busy_lake_exits_2_before_starting_spark(tmp_path):
    lake = tmp_path / "lake"
    holder = _hold(lake)
    try:
        t0 = time.monotonic()
        for argv in (["run", "--train-steps", "0"], ["dedup"], ["optout", "apply"], ["check", "all"]):
            proc = subprocess.run([sys.executable, "-m", "jobs.cli", *argv, "--lake", str(lake)],
                                  capture_output=True, text=True, timeout=120,
                                  cwd=Path(__file__).resolve().parents[1])
            assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
            assert f"lake {lake} is in use by `codemill run` (pid {holder.pid}" in proc.stderr, proc.stderr
            assert "Traceback" not in proc.stderr
        assert time.monotonic() - t0 < 60  # no JVM started: four refusals in seconds
        assert not (lake / "ops").exists()
    finally:
        holder.kill()
        holder.wait()
