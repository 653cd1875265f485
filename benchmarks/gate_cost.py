"""How long the data-quality gates take relative to the stages they check.

Generates a corpus of N synthetic source files (JSONL, several languages, some duplicates,
some long-line and low-alphanumeric files the filter drops), runs each stage with
jobs.core.stage.execute_stage and then its gate (quality_checks.gates.run_gate), and prints
seconds per stage, per gate and the ratio.

    CODEMILL_DRIVER_MEMORY=4g .venv/bin/python benchmarks/gate_cost.py --files 50000 \
        [--stages ingest,select,filter,dedup] [--workdir /tmp/gate_cost]
    CODEMILL_DRIVER_MEMORY=4g .venv/bin/python benchmarks/gate_cost.py --corpus real

`--corpus real` uses real code instead: every .py file of the dedup benchmark's large package
set (64,361 files, 627 MiB; a gate's cost depends on rows more than on bytes, a stage's on
both, so small synthetic files are the gates' worst case).

The machine this ran on was shared: compare the ratio, not the absolute seconds.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LANGS = {
    "py": "def {name}(x, y):\n    \"\"\"Compute {name} of x and y.\"\"\"\n    total = x + y * {n}\n    return total\n",
    "js": "function {name}(a, b) {{\n  // combine a and b\n  const total = a + b * {n};\n  return total;\n}}\n",
    "go": "func {name}(a int, b int) int {{\n\t// combine a and b\n\treturn a + b*{n}\n}}\n",
    "java": "public class C{n} {{\n  static int {name}(int a, int b) {{\n    return a + b * {n};\n  }}\n}}\n",
    "rs": "fn {name}(a: i64, b: i64) -> i64 {{\n    // combine a and b\n    a + b * {n}\n}}\n",
    "md": "# {name}\n\nNotes about {name} number {n}, written for people who read docs.\n",
}
WORDS = ("alpha", "beta", "gamma", "delta", "parse", "render", "fetch", "store", "merge", "split", "count", "scale")


@contextmanager
def shard_writers(folder: Path, shards: int):
    """`shards` JSONL files part-NN.jsonl under `folder`, open for writing, closed on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    outs = [(folder / f"part-{k:02d}.jsonl").open("w", encoding="utf-8") for k in range(shards)]
    try:
        yield outs
    finally:
        for out in outs:
            out.close()


def make_corpus(folder: Path, n_files: int, seed: int = 7, shards: int = 8) -> int:
    """JSONL shards under `folder` (one record per file)."""
    rng = random.Random(seed)
    exts = list(LANGS)
    with shard_writers(folder, shards) as outs:
        for i in range(n_files):
            out = outs[i % shards]
            ext = exts[i % len(exts)]
            repo = f"org{i % 97}/repo{i % 1013}"
            body = []
            for j in range(rng.randint(3, 25)):
                name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}_{j}"
                body.append(LANGS[ext].format(name=name, n=rng.randint(1, 999)))
            content = "\n".join(body)
            kind = i % 50
            if kind == 1:  # a long line: dropped by max_line_length
                content += "\nx = '" + "a" * 1500 + "'\n"
            elif kind == 2:  # mostly symbols: dropped by alphanum_fraction
                content = "{[(<>)]}\n" * 200
            elif kind == 3 and ext in _first_lines:  # an exact duplicate of an earlier file
                content = json.loads(_first_lines[ext])
            elif kind == 4 and ext not in _first_lines:
                _first_lines[ext] = json.dumps(content)
            out.write(json.dumps({"repo_name": repo, "path": f"src/f{i}.{ext}", "content": content,
                                  "license": "MIT", "stars": i % 300}) + "\n")
    return n_files


_first_lines: dict[str, str] = {}


def real_corpus(folder: Path, shards: int = 8) -> int:
    """JSONL shards of real code: every .py file of the dedup benchmark's large package set
    (benchmarks/dedup_benchmark.py, fetched once into its cache), byte-identical copies across
    releases included, as a crawl would deliver them. Returns the number of files."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import dedup_benchmark as bench

    n = 0
    with shard_writers(folder, shards) as outs:
        for name, version, archive in bench.download(bench.CORPORA["large"]):
            for member, raw in bench.archive_members(archive):
                path = member.split("/", 1)[1] if "/" in member else member
                outs[n % shards].write(json.dumps({"repo_name": f"{name}/{version}", "path": path,
                                                   "content": raw.decode("utf-8", errors="replace"),
                                                   "license": "MIT", "stars": n % 300}) + "\n")
                n += 1
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50000)
    parser.add_argument("--corpus", choices=("synthetic", "real"), default="synthetic",
                        help="synthetic: --files generated small files (~1.6 KB); real: the 64,361 .py "
                             "files (627 MiB) of the dedup benchmark's large package set")
    parser.add_argument("--stages", default="ingest,select,filter,dedup")
    parser.add_argument("--workdir", default="/tmp/codemill-gate-cost")
    args = parser.parse_args()

    from jobs.core.config import load_config
    from jobs.core.lake import Lake
    from jobs.core.session import get_spark
    from jobs.core.stage import StageContext, execute_stage
    from jobs.stages import STAGES, get_stage
    from quality_checks.gates import build_lake_docs, run_gate

    stages = [get_stage(name) for name in args.stages.split(",")]  # an unknown name fails before any work

    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    corpus = work / "corpus"
    t0 = time.perf_counter()
    n_files = real_corpus(corpus) if args.corpus == "real" else make_corpus(corpus, args.files)
    print(f"{args.corpus} corpus: {n_files} files ({sum(p.stat().st_size for p in corpus.iterdir()) / 2**20:.1f} MiB) in {time.perf_counter() - t0:.1f}s",
          flush=True)

    spark = get_spark("codemill-gate-cost")
    # stages=STAGES: each stage reads its input by lineage, at the version the previous stage
    # wrote in this run (so --stages must start at ingest, or the lake holds no input)
    ctx = StageContext(spark=spark, lake=Lake(spark, work / "lake"), config=load_config(), run_id="gate-cost",
                       args=argparse.Namespace(input=str(corpus), input_format="jsonl"), stages=STAGES)
    rows = []
    for stage_def in stages:
        stage = stage_def.name
        t = time.perf_counter()
        result = execute_stage(ctx, stage_def)
        stage_s = time.perf_counter() - t
        t = time.perf_counter()
        # as inside `codemill run`: no Data Docs per gate, built once at the end (below)
        report = run_gate(ctx.lake, ctx.config, stage_def, ctx.run_id, raise_on_failure=False, docs=False)
        gate_s = time.perf_counter() - t
        rows.append((stage, result.rows_in, result.rows_kept, stage_s, gate_s, len(report.rows), len(report.failures)))
        print(f"{stage}: stage {stage_s:.1f}s; {report.summary()}", flush=True)
        for f in report.failures:
            print(f"   FAILED {f.table_name} {f.expectation}: {f.unexpected_count} ({f.detail})")

    print(f"\n{'stage':<14}{'rows in':>9}{'kept':>9}{'stage s':>10}{'gate s':>10}{'gate/stage':>12}{'expect.':>9}")
    for stage, n_in, kept, st, gt, n_exp, _failed in rows:
        print(f"{stage:<14}{n_in:>9}{kept:>9}{st:>10.1f}{gt:>10.1f}{gt / st:>12.2f}{n_exp:>9}")
    total_s, total_g = sum(r[3] for r in rows), sum(r[4] for r in rows)
    t = time.perf_counter()
    build_lake_docs(ctx.lake)
    docs_s = time.perf_counter() - t
    print(f"{'data docs':<14}{'':>18}{'':>10}{docs_s:>10.1f}")
    total_g += docs_s
    print(f"{'total':<14}{'':>18}{total_s:>10.1f}{total_g:>10.1f}{total_g / total_s:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
