"""A stage killed mid-write (SIGKILL, JVM included, at a random point of the dedup stage)
leaves the published version intact, no stale lock, and the next run of the stage completes
with rows in = kept + rejected (docs/operations.md, "A killed job")."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jobs.core.delta_read import query
from jobs.core.publish import published_version

ROOT = Path(__file__).resolve().parents[1]
CODEMILL = str(Path(sys.executable).parent / "codemill")
ENV = {**os.environ, "CODEMILL_DRIVER_MEMORY": "1g"}


def _codemill(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([CODEMILL, *argv], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=900)


def _dedup_runs(lake: Path, run_id: str) -> list[dict]:
    return [r for r in query(str(lake / "ops" / "runs"), "SELECT * FROM t WHERE stage = 'dedup'").to_pylist()
            if r["run_id"] == run_id]


def _count(lake: Path, table: str, version: int) -> int:
    return query(str(lake / table), "SELECT count(*) AS n FROM t", version=version).column("n")[0].as_py()


@pytest.mark.slow
def test_dedup_killed_mid_write_leaves_the_published_version_and_the_rerun_completes(tmp_path):
    lake = tmp_path / "lake"
    first = _codemill("run", "--lake", str(lake), "--until", "dedup", "--train-steps", "0", "--run-id", "first")
    assert first.returncode == 0, first.stderr[-3000:]
    published = published_version(lake, "silver/deduped")
    published_rows = _count(lake, "silver/deduped", published)
    (first_dedup,) = _dedup_runs(lake, "first")

    # Kill the next dedup run at a random point between its start and its expected end.
    seed = random.randrange(1 << 30)
    delay = random.Random(seed).uniform(0.0, first_dedup["seconds"])
    proc = subprocess.Popen([CODEMILL, "dedup", "--lake", str(lake), "--run-id", "second"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=ENV, cwd=ROOT, start_new_session=True)
    output: list[str] = []
    started = threading.Event()

    def read():
        for line in proc.stdout:
            output.append(line)
            if "dedup: started" in line:
                started.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(300), "".join(output)[-3000:]
    time.sleep(delay)
    killed_before_end = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(10)
    print(f"seed {seed}: SIGKILL {delay:.1f} s after 'dedup: started' (stage took {first_dedup['seconds']:.1f} s "
          f"in the first run; killed before it ended: {killed_before_end})")

    # Readers still see what was published before the kill, and can read it.
    assert published_version(lake, "silver/deduped") == published
    assert _count(lake, "silver/deduped", published) == published_rows

    # The next run of the stage (same run id: it replaces that run's output) is not locked out,
    # completes, passes its gate and accounts for every row once.
    rerun = _codemill("dedup", "--lake", str(lake), "--run-id", "second")
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
    assert "OK   gate dedup" in rerun.stdout, rerun.stdout
    (record,) = _dedup_runs(lake, "second")
    assert record["status"] == "succeeded"
    assert record["rows_in"] == record["rows_kept"] + record["rows_rejected"] == first_dedup["rows_in"]
    assert (record["rows_kept"], record["rows_rejected"]) == (first_dedup["rows_kept"], first_dedup["rows_rejected"])
    rejected = query(str(lake / "silver" / "rejections"),
                     "SELECT count(*) AS n FROM t WHERE stage = 'dedup' AND run_id = 'second'").column("n")[0].as_py()
    assert rejected == record["rows_rejected"]
    new = published_version(lake, "silver/deduped")
    assert new is not None and new > published
    assert _count(lake, "silver/deduped", new) == record["rows_kept"]
