"""The whole pipeline on the team's real-code corpus, as a user runs it, with every gate on.

    .venv/bin/python benchmarks/pipeline_real.py [--corpus main] [--cores 2] [--work DIR] [--output FILE.json]

1. Corpus: benchmarks/real_corpus.py (pinned PyPI/npm/... packages of many languages,
   unpacked into repository folders, cached under ~/.cache/codemill/real_corpus; built on
   first use). Its description is printed first.
2. `codemill run --input CORPUS --lake LAKE --train-steps 0` in a fresh process (JVM start,
   jar loading, every stage and its gate, Data Docs, report and card), Spark local[--cores].
3. Per stage, from the lake (ops/runs) and the run's log (gate lines): files in / kept /
   rejected, seconds of the stage and of its gate, files/s. Then: the wall time from process
   start to the end of the last gate (ingest to gold/tokens, gates included) and its files/s
   per core (input files / seconds / cores); the same with the tokenizer's training left out
   (a weekly run reuses the lake's tokenizer); gates' seconds as a share of the stages'.
4. Reference for the tokenize stage, in the same script on the same cores: Hugging Face
   `tokenizers` `encode_batch` (its own thread pool, one thread per core) over the same
   documents (gold/training_docs) with the same tokenizer, documents already in memory.

Targets (issue: the whole pipeline on real code at scale): end to end >= 150 files/s per
core, tokenize >= 0.8x the reference, gates <= 15% of stage time.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

GATE_LINE = re.compile(r"gate (\w+) \(run [^)]*\): (\d+) expectations, (\d+) failed, (\d+) skipped, ([\d.]+)s")
STAGE_LINE = re.compile(r"^(\d\d:\d\d:\d\d) .* (\w+): started$")
TARGETS = {"files_per_second_per_core": 150.0, "tokenize_ratio": 0.8, "gate_share": 0.15}


def run_pipeline(corpus: Path, lake: Path, cores: int, run_id: str, log: Path,
                 extra: tuple[str, ...] = ()) -> tuple[float, float, int]:
    """`codemill run` (with `extra` options) in a new process; (wall seconds, seconds until
    the last gate ended, exit code)."""
    env = {**os.environ, "CODEMILL_SPARK_MASTER": f"local[{cores}]"}
    cmd = [str(Path(sys.executable).parent / "codemill"), "run", "--input", str(corpus), "--lake", str(lake),
           "--run-id", run_id, "--train-steps", "0", *extra]
    started = time.time()
    last_gate = None
    with log.open("w") as sink:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
        for line in proc.stdout:
            sink.write(line)
            if GATE_LINE.search(line) and "gate tokenize" in line:
                last_gate = time.time()
            if " started" in line or GATE_LINE.search(line) or "finished" in line:
                print("  " + line.rstrip()[:160], flush=True)
        code = proc.wait()
    wall = time.time() - started
    return wall, (last_gate or time.time()) - started, code


def stage_figures(lake: Path, run_id: str, log_text: str) -> list[dict]:
    from jobs.core.delta_read import query
    from jobs.stages import stage_names
    runs = {r["stage"]: r for r in query(str(lake / "ops" / "runs"), "SELECT * FROM t").to_pylist()
            if r["run_id"] == run_id}
    gates = {m.group(1): float(m.group(5)) for m in GATE_LINE.finditer(log_text)}
    out = []
    for name in stage_names():
        r = runs.get(name)
        if r is None or r["status"] != "succeeded":
            continue
        metrics = dict(r["metrics"] or [])
        out.append({"stage": name, "in": r["rows_in"], "kept": r["rows_kept"], "rejected": r["rows_rejected"],
                    "seconds": round(r["seconds"], 1), "gate_seconds": gates.get(name),
                    "files_per_s": round(r["rows_in"] / r["seconds"], 1) if r["seconds"] else None,
                    "tokenizer_train_seconds": float(metrics.get("tokenizer_train_seconds", 0) or 0)})
    return out


REFERENCE = r"""
import json, os, sys, time
os.environ["RAYON_NUM_THREADS"] = sys.argv[3]
from tokenizers import Tokenizer
from jobs.core.delta_read import query
tok = Tokenizer.from_file(sys.argv[2])
texts = query(sys.argv[1], "SELECT text FROM t").column("text").to_pylist()
started = time.perf_counter()
tokens = 0
for i in range(0, len(texts), 1000):
    tokens += sum(len(e.ids) for e in tok.encode_batch(texts[i:i + 1000], add_special_tokens=False))
print(json.dumps({"docs": len(texts), "chars": sum(map(len, texts)), "tokens": tokens,
                  "seconds": time.perf_counter() - started}))
"""


def tokenize_reference(lake: Path, cores: int) -> dict:
    """Plain encode_batch over gold/training_docs in a fresh process (documents in memory,
    the tokenizer's thread pool sized to the cores), batches of 1,000 documents as the stage."""
    proc = subprocess.run([sys.executable, "-c", REFERENCE, str(lake / "gold" / "training_docs"),
                           str(lake / "tokenizer" / "tokenizer.json"), str(cores)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _print_stages(stages: list[dict]) -> None:
    print(f"\n{'stage':14s} {'in':>8s} {'kept':>8s} {'rejected':>8s} {'stage s':>8s} {'gate s':>7s} {'files/s':>8s}")
    for s in stages:
        print(f"{s['stage']:14s} {s['in']:>8,} {s['kept']:>8,} {s['rejected']:>8,} {s['seconds']:>8.1f} "
              f"{s['gate_seconds'] or 0:>7.1f} {s['files_per_s'] or 0:>8.1f}")
    print(f"{'total':14s} {'':>8s} {'':>8s} {'':>8s} {sum(s['seconds'] for s in stages):>8.1f} "
          f"{sum(s['gate_seconds'] or 0 for s in stages):>7.1f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="main", help="real_corpus name (main, large, holdout) or a folder")
    ap.add_argument("--cores", type=int, default=2, help="Spark local[N] and the reference's threads (default 2)")
    ap.add_argument("--work", default="/tmp/codemill-pipeline-bench", help="folder for the lake and the log")
    ap.add_argument("--output", help="write the figures as JSON here")
    args = ap.parse_args(argv)

    import real_corpus
    corpus = Path(args.corpus) if Path(args.corpus).exists() else real_corpus.build(args.corpus)
    info = real_corpus.describe(corpus)
    families = ", ".join(f"{k} {v:,}" for k, v in sorted(info["families"].items(), key=lambda kv: -kv[1]))
    print(f"corpus: {corpus} — {info['files']:,} files, {info['bytes'] / 1e6:,.0f} MB, {info['packages']} package "
          f"releases\n  by family: {families}")
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    lake, log, run_id = work / "lake", work / "run.log", "bench"
    print(f"machine: {os.cpu_count()} cores visible, using {args.cores}; load average {os.getloadavg()[0]:.1f}")

    wall, to_tokens, code = run_pipeline(corpus, lake, args.cores, run_id, log)
    text = log.read_text(errors="replace")
    if code != 0:
        print(text[-4000:])
        print(f"codemill run exited {code}; the stages that ran:")
    stages = stage_figures(lake, run_id, text) if (lake / "ops" / "runs").exists() else []
    if code != 0 or not stages:
        _print_stages(stages)
        return 1
    files = stages[0]["in"]
    stage_s = sum(s["seconds"] for s in stages)
    gate_s = sum(s["gate_seconds"] or 0 for s in stages)
    tok_train = sum(s["tokenizer_train_seconds"] for s in stages)
    _print_stages(stages)
    fps_core = files / to_tokens / args.cores
    fps_core_no_tok = files / (to_tokens - tok_train) / args.cores
    gate_share = gate_s / stage_s
    print(f"\nprocess start to the last gate (ingest to gold/tokens, gates, JVM start): {to_tokens:.1f}s; "
          f"whole command incl. Data Docs, report and card: {wall:.1f}s")
    print(f"end to end: {files / to_tokens:.1f} files/s = {fps_core:.1f} files/s per core "
          f"(target >= {TARGETS['files_per_second_per_core']:.0f})")
    if tok_train:
        print(f"  without the tokenizer's training ({tok_train:.1f}s, once per lake): {fps_core_no_tok:.1f} files/s per core")
    print(f"gates: {gate_s:.1f}s = {gate_share:.1%} of the stages' {stage_s:.1f}s (target <= {TARGETS['gate_share']:.0%})")

    ref = tokenize_reference(lake, args.cores)
    tok_stage = next(s for s in stages if s["stage"] == "tokenize")
    tok_encode_s = tok_stage["seconds"] - tok_stage["tokenizer_train_seconds"]
    ratio = ref["seconds"] / tok_encode_s
    print(f"tokenize: stage {tok_encode_s:.1f}s without the tokenizer's training ({ref['tokens']:,} tokens, "
          f"{ref['chars'] / 1e6:.0f} M chars of {ref['docs']:,} documents: read, encode, pack, shuffle, write); "
          f"reference encode_batch with {args.cores} threads {ref['seconds']:.1f}s → throughput ratio {ratio:.2f}x "
          f"(target >= {TARGETS['tokenize_ratio']})")
    figures = {"corpus": info, "cores": args.cores, "stages": stages, "seconds_to_tokens": round(to_tokens, 1),
               "wall_seconds": round(wall, 1), "files_per_second_per_core": round(fps_core, 1),
               "files_per_second_per_core_without_tokenizer_training": round(fps_core_no_tok, 1),
               "gate_share": round(gate_share, 4), "tokenize_reference": ref, "tokenize_ratio": round(ratio, 3)}
    if args.output:
        Path(args.output).write_text(json.dumps(figures, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
