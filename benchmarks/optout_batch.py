"""A batch of opt-out requests applied to a real lake, as a user runs it.

    .venv/bin/python benchmarks/optout_batch.py [--lake LAKE] [--requests 100] [--hits 10] [--work DIR]

1. Lake: a copy of LAKE (default: the one benchmarks/pipeline_real.py leaves, every stage run
   with its gate on the real corpus), so the source stays reusable; its size is printed.
2. Requests: `--hits` repositories of the lake (fixed seed) and, up to `--requests`,
   repositories and users that are not in it (most requesters of a real dataset are not),
   recorded in one `codemill optout add --file` (one commit).
3. `codemill optout apply` in a fresh process (as a user runs it), timed as a whole, and
   the command's own figure. Reference in the same script: the target of the issue (a batch
   of 100 on a lake of ~33,000 files in <= 90 s) and the same apply's cost per request.
4. Checked afterwards: no table of the copy holds a row of a removed repository at its latest
   version, no older version can be read, and gold/tokens holds no sequence of a removed
   document; the figures of governance/optout_log (counts, no names).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_SECONDS = 90.0


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", default="/tmp/codemill-pipeline-bench/lake", help="lake to copy (default: %(default)s)")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--hits", type=int, default=10, help="requests naming a repository of the lake (default 10)")
    ap.add_argument("--work", default="/tmp/codemill-optout-bench")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    from jobs.core.delta_read import query
    from jobs.core.publish import published_version
    from jobs.stages.governance import optout_log

    source = Path(args.lake)
    if not (source / "gold" / "tokens").exists():
        print(f"{source} has no gold/tokens: run benchmarks/pipeline_real.py first", file=sys.stderr)
        return 2
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    lake = work / "lake"
    shutil.copytree(source, lake, ignore=shutil.ignore_patterns("_codemill.lock"))
    files = query(str(lake / "bronze" / "files"), "SELECT count(*) AS n FROM t").column("n")[0].as_py()
    repos = sorted(query(str(lake / "gold" / "files"), "SELECT DISTINCT repo_name FROM t").column("repo_name").to_pylist())
    print(f"lake: copy of {source}: {files:,} files in bronze/files, {len(repos)} repositories in gold/files, "
          f"{_du(lake) / 1e9:.2f} GB")

    rng = random.Random(args.seed)
    hits = rng.sample(repos, min(args.hits, len(repos)))
    misses = [f"nobody{i}/project{i}" if i % 2 else f"nobody{i}" for i in range(args.requests - len(hits))]
    requests_file = work / "requests.txt"
    requests_file.write_text("\n".join(hits + misses) + "\n")
    env = dict(os.environ)
    codemill = str(Path(sys.executable).parent / "codemill")
    add = subprocess.run([codemill, "optout", "add", "--file", str(requests_file), "--lake", str(lake)],
                         capture_output=True, text=True, env=env)
    if add.returncode != 0:
        print(add.stderr[-3000:])
        return 1
    print(f"requests: {len(hits) + len(misses)} ({len(hits)} repositories of the lake, {len(misses)} not in it)")

    before = {t: published_version(lake, t) for t in ("bronze/files", "gold/files", "gold/training_docs", "gold/tokens")}
    t0 = time.perf_counter()
    proc = subprocess.run([codemill, "optout", "apply", "--lake", str(lake)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    print(proc.stdout.rstrip())
    if proc.returncode != 0:
        print(proc.stderr[-3000:])
        return 1

    # Nothing left, at any readable version.
    quoted = ", ".join("'" + r.lower().replace("'", "''") + "'" for r in hits)
    left = {}
    for table in ("bronze/files", "silver/selected", "silver/filtered", "silver/deduped", "silver/redacted",
                  "silver/rejections", "gold/files", "gold/training_docs"):
        if (lake / table).exists():
            left[table] = query(str(lake / table), f"SELECT count(*) AS n FROM t WHERE lower(repo_name) IN ({quoted})"
                                ).column("n")[0].as_py()
    unreadable = []
    for table, version in before.items():
        try:
            query(str(lake / table), "SELECT * FROM t LIMIT 1000000", version=version).num_rows
        except Exception:
            unreadable.append(table)
    log = [r for r in optout_log(lake) if r["rows_deleted"]]
    print("\nrows deleted per table (governance/optout_log): "
          + ", ".join(f"{r['table_name']} {r['rows_deleted']:,}" for r in log))
    print(f"rows of removed repositories left at the latest versions: {sum(left.values())} "
          f"({', '.join(f'{t} {n}' for t, n in left.items())})")
    print(f"pre-apply published versions no longer readable: {len(unreadable)} of {len(before)} ({', '.join(unreadable)})")
    print(f"\noptout apply, {len(hits) + len(misses)} requests on {files:,} files: {wall:.1f}s as a user runs it "
          f"(fresh process) = {wall / (len(hits) + len(misses)):.2f}s per request; target <= {TARGET_SECONDS:.0f}s "
          f"on ~33,000 files: {TARGET_SECONDS / wall:.2f}x of the budget's speed")
    ok = sum(left.values()) == 0 and len(unreadable) == len(before)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
