"""Ingest throughput on a generated corpus (default 50,000 files), for each input format.

    .venv/bin/python benchmarks/ingest_throughput.py [--files 50000] [--formats jsonl,repos,parquet]

Prints files/s and MB/s per format, and the ratio of each format to JSONL measured in the
same process. The corpus mixes code-like files of several languages with ~1% bad records
(malformed JSON lines / invalid UTF-8 / binary) so the quarantine path is exercised too.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EXTENSIONS = [".py", ".js", ".java", ".c", ".go", ".rs", ".ts", ".rb", ".sh", ".md"]
WORDS = ("value index count result items total buffer config handler request response parse "
         "render update client server token cache stream reader writer").split()


def code_file(rng: random.Random, lines: int) -> str:
    out = []
    for i in range(lines):
        a, b, c = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
        out.append(f"    {a}_{i} = {b}({c}, {rng.randint(0, 999)})  # {c} {a}")
    return "def generated():\n" + "\n".join(out) + "\n"


def make_records(n: int, seed: int = 7):
    rng = random.Random(seed)
    for i in range(n):
        repo = f"owner{i % 500}/repo{i % 2500}"
        path = f"src/mod{i}{rng.choice(EXTENSIONS)}"
        yield {"repo_name": repo, "path": path, "content": code_file(rng, rng.randint(5, 60)),
               "stars": rng.randint(0, 5000), "license": rng.choice(["MIT", "Apache-2.0", "GPL-3.0"])}


def write_jsonl(records, folder: Path, shards: int = 16) -> None:
    folder.mkdir(parents=True)
    handles = [open(folder / f"part-{s:03d}.jsonl", "wb") for s in range(shards)]
    for i, rec in enumerate(records):
        line = json.dumps(rec).encode()
        if i % 100 == 0:
            line = line[:-5]  # 1% malformed lines
        handles[i % shards].write(line + b"\n")
    for h in handles:
        h.close()


def write_repos(records, folder: Path) -> None:
    for i, rec in enumerate(records):
        target = folder / rec["repo_name"].replace("/", "__") / rec["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        data = rec["content"].encode()
        if i % 100 == 0:
            data = b"\x00\x01" + data  # 1% binary
        target.write_bytes(data)


def write_parquet(records, folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    folder.mkdir(parents=True)
    rows = list(records)
    table = pa.table({
        "content": [r["content"] for r in rows],
        "max_stars_repo_path": [r["path"] for r in rows],
        "max_stars_repo_name": [r["repo_name"] for r in rows],
        "max_stars_count": [r["stars"] for r in rows],
        "max_stars_repo_licenses": [[r["license"]] for r in rows],
    })
    for s in range(8):
        pq.write_table(table.slice(s * len(rows) // 8, len(rows) // 8 + 1), folder / f"part-{s}.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--formats", default="jsonl,parquet,repos")
    parser.add_argument("--workdir", help="default: a temporary folder, removed afterwards")
    args = parser.parse_args()

    from jobs.core.config import load_config
    from jobs.core.lake import Lake
    from jobs.core.session import get_spark
    from jobs.core.stage import StageContext, execute_stage
    from jobs.stages import STAGES, ingest
    import argparse as ap

    work = Path(args.workdir or tempfile.mkdtemp(prefix="codemill-bench-"))
    spark = get_spark("codemill-bench-ingest")
    spark.range(1).count()  # JVM warm-up outside the timings
    writers = {"jsonl": write_jsonl, "parquet": write_parquet, "repos": write_repos}
    results = {}
    for fmt in args.formats.split(","):
        src = work / f"input-{fmt}"
        if not src.exists():
            t = time.perf_counter()
            writers[fmt](make_records(args.files), src)
            print(f"[{fmt}] wrote {args.files} files in {time.perf_counter() - t:.1f}s", flush=True)
        lake = work / f"lake-{fmt}"
        shutil.rmtree(lake, ignore_errors=True)
        ctx = StageContext(spark=spark, lake=Lake(spark, lake), config=load_config(), run_id=f"bench-{fmt}",
                           args=ap.Namespace(input=str(src), input_format=fmt), stages=STAGES)
        t = time.perf_counter()
        result = execute_stage(ctx, ingest.STAGE)
        seconds = time.perf_counter() - t
        mb = (result.bytes_in or 0) / 1e6
        results[fmt] = result.rows_in / seconds
        print(f"[{fmt}] {result.rows_in} records ({result.rows_kept} kept, {result.rows_rejected} quarantined), "
              f"{mb:.1f} MB in {seconds:.1f}s: {result.rows_in / seconds:,.0f} files/s, {mb / seconds:.2f} MB/s",
              flush=True)
    if "jsonl" in results:
        for fmt, rate in results.items():
            print(f"ratio {fmt}/jsonl: {rate / results['jsonl']:.2f}")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
