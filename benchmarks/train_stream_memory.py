"""Peak memory of a training rank's data path: gold/tokens streamed per row group (the trainer's
TokenTable) against the whole table in memory (read_sequences, the reader it replaced), on two
synthetic tables 10x apart in size.

    .venv/bin/python benchmarks/train_stream_memory.py                          # 20k and 200k rows
    .venv/bin/python benchmarks/train_stream_memory.py --sizes 2000 20000 --batches 50

Each table holds `size` rows of `--tokens` int32 tokens (what the tokenize stage writes:
seq_len + 1 tokens a row), written with deltalake.write_deltalake as `--files` data files of
row groups of `--group-rows` rows, seq_id sorted (the tokenize stage's orderBy). For every table
and reader a fresh process (one rank: `--rank` of `--world`) imports torch and the trainer, opens
the table at its version as trainer/train.py does (windows, held-out split, this rank's block,
TokenStream), reads `--batches` micro-batches of `--micro-batch` samples (collated tensors, as the
training loop gets them) and reports its peak RSS (getrusage ru_maxrss), the RSS after importing
torch, deltalake, pyarrow and the trainer (the baseline every rank pays whatever it reads), and
samples/s. The two readers' batches are compared by digest. Tables are built once under `--dir`
and reused (delete it to rebuild).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def rss_mb() -> float:
    """Current resident set of this process (MiB), from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def build_table(path: Path, rows: int, tokens: int, files: int, group_rows: int, seed: int = 0) -> int:
    """A gold/tokens-shaped table (seq_id, input_ids list<int32>, doc_ids, run_id) in `files`
    appends, one file each; returns its version."""
    import numpy as np
    import pyarrow as pa
    from deltalake import DeltaTable, WriterProperties, write_deltalake
    if (path / "_delta_log").exists():
        return DeltaTable(str(path)).version()
    rng = np.random.default_rng(seed)
    props = WriterProperties(max_row_group_size=group_rows)
    bounds = np.linspace(0, rows, files + 1).astype(np.int64)
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        n = int(hi - lo)
        values = pa.array(rng.integers(0, 49152, size=n * tokens, dtype=np.int32))
        offsets = pa.array(np.arange(0, n * tokens + 1, tokens, dtype=np.int32))
        ids = np.arange(lo, hi, dtype=np.int64)
        table = pa.table({"seq_id": pa.array(ids), "input_ids": pa.ListArray.from_arrays(offsets, values),
                          "doc_ids": pa.array([[f"doc-{j}"] for j in ids], pa.list_(pa.string())),
                          "run_id": pa.array(["bench"] * n)})
        write_deltalake(str(path), table, mode="overwrite" if i == 0 else "append", writer_properties=props)
        del values, offsets, table
    return DeltaTable(str(path)).version()


def measure(args) -> dict:
    """One rank's data path, in this process: `args.reader` is stream or memory."""
    import deltalake  # noqa: F401  (the libraries both readers load: part of the baseline)
    import numpy as np  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import torch  # noqa: F401  (every rank has it loaded)

    from trainer.config import load_config
    from trainer.data import TokenStream, TokenTable, batch_digest, read_sequences, split_heldout, window
    d = load_config(None, {"data.read_ahead": args.read_ahead} if args.read_ahead is not None else None).data
    base = rss_mb()
    t0 = time.perf_counter()
    if args.reader == "stream":  # trainer/train.py, section 4b
        table = TokenTable.open(args.table, args.version, read_ahead=d.read_ahead)
        samples = table.windows(args.seq_len or table.row_len - 1)
    else:  # the reader before streaming: the whole table as an int64 array on every rank
        samples = read_sequences(args.table, args.version)
        samples = window(samples, args.seq_len or samples.shape[1] - 1)
    n_heldout = split_heldout(len(samples), d.heldout_fraction)
    stream = TokenStream(samples[:len(samples) - n_heldout], rank=args.rank, world=args.world, seed=1)
    opened = time.perf_counter() - t0
    digests = []
    t1 = time.perf_counter()
    for _ in range(args.batches):
        digests.append(batch_digest(stream.next_batch(args.micro_batch)))
    read_s = time.perf_counter() - t1
    out = {"reader": args.reader, "rows": len(samples), "baseline_mb": round(base, 1), "peak_mb": round(peak_mb(), 1),
           "open_s": round(opened, 2), "samples_per_s": round(args.batches * args.micro_batch / max(read_s, 1e-9)),
           "digest": hashlib.sha1("".join(digests).encode()).hexdigest()[:16]}
    if args.reader == "stream":
        out.update(read_ahead=d.read_ahead, max_row_groups_held=stream.samples.max_resident,
                   row_groups_read=len(stream.samples.reads))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000], help="rows per table")
    p.add_argument("--tokens", type=int, default=1024, help="tokens per row")
    p.add_argument("--files", type=int, default=8, help="data files per table")
    p.add_argument("--group-rows", type=int, default=2048, help="rows per Parquet row group")
    p.add_argument("--batches", type=int, default=2000, help="micro-batches read (default: 16,000 samples, "
                   "8 row groups of the default layout)")
    p.add_argument("--micro-batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=None, help="window length (default: the stored rows)")
    p.add_argument("--world", type=int, default=1)
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--read-ahead", type=int, default=None, help="default: configs/train.yaml data.read_ahead")
    p.add_argument("--readers", nargs="+", default=["memory", "stream"], choices=["memory", "stream"])
    p.add_argument("--dir", type=Path, default=Path("/tmp/codemill-stream-bench"))
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    # internal: one measurement in this process
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--reader", default="stream", help=argparse.SUPPRESS)
    p.add_argument("--table", default=None, help=argparse.SUPPRESS)
    p.add_argument("--version", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return 0

    results = []
    for size in args.sizes:
        path = args.dir / f"tokens-{size}"
        t0 = time.perf_counter()
        version = build_table(path, size, args.tokens, args.files, args.group_rows)
        disk = sum(f.stat().st_size for f in path.glob("*.parquet")) / 2 ** 20
        print(f"table {path} v{version}: {size:,} rows x {args.tokens} tokens, {args.files} files, "
              f"row groups of {args.group_rows} rows, {disk:,.0f} MiB of Parquet ({time.perf_counter() - t0:.0f} s)",
              flush=True)
        for reader in args.readers:
            cmd = [sys.executable, __file__, "--measure", "--reader", reader, "--table", str(path),
                   "--version", str(version), "--batches", str(args.batches), "--micro-batch", str(args.micro_batch),
                   "--world", str(args.world), "--rank", str(args.rank)]
            if args.seq_len:
                cmd += ["--seq-len", str(args.seq_len)]
            if args.read_ahead is not None:
                cmd += ["--read-ahead", str(args.read_ahead)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout[-2000:] + done.stderr[-4000:], file=sys.stderr)
                return 1
            r = {"size": size, "parquet_mb": round(disk, 1), **json.loads(done.stdout.strip().splitlines()[-1])}
            results.append(r)
            extra = (f", held at most {r['max_row_groups_held']} row groups (read-ahead {r['read_ahead']}), "
                     f"read {r['row_groups_read']}") if reader == "stream" else ""
            print(f"  {reader:6s} rank {args.rank}/{args.world}: peak RSS {r['peak_mb']:8,.0f} MiB "
                  f"(after imports {r['baseline_mb']:,.0f}), open {r['open_s']} s, "
                  f"{r['samples_per_s']:,} samples/s{extra}", flush=True)

    print("\nsummary (peak RSS of one rank, MiB)")
    print(f"{'rows':>9s} " + " ".join(f"{x:>9s}" for x in args.readers) + "   memory/stream  same batches")
    by = {(r["size"], r["reader"]): r for r in results}
    for size in args.sizes:
        row = [by[(size, x)]["peak_mb"] for x in args.readers]
        ratio = (by[(size, "memory")]["peak_mb"] / by[(size, "stream")]["peak_mb"]) if len(row) == 2 else float("nan")
        same = (by[(size, "memory")]["digest"] == by[(size, "stream")]["digest"]) if len(row) == 2 else None
        print(f"{size:9,d} " + " ".join(f"{x:9,.0f}" for x in row) + f"   {ratio:13.1f}  {same}")
    if len(args.sizes) >= 2:
        small, large = args.sizes[0], args.sizes[-1]
        for x in args.readers:
            growth = by[(large, x)]["peak_mb"] / by[(small, x)]["peak_mb"]
            print(f"{x}: {large:,} rows / {small:,} rows: peak x{growth:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
