"""An incremental weekly run against the full rerun, on the team's real-code corpus, gates on.

    .venv/bin/python benchmarks/incremental_real.py [--corpus main] [--files 33000] [--cores 2] [--work DIR]

1. From the real corpus (benchmarks/real_corpus.py) take whole repositories, in a seeded order,
   until at least --files files; split them by repository, seeded, into A (~90% of the
   files) and B (the rest, >= 10%). Folders are hard-linked copies (no bytes copied).
2. `codemill run --input A` on a fresh lake (the base), then `codemill run --input B
   --incremental` on it (the step measured), then, on a second fresh lake, the full rerun
   `codemill run --input A∪B` (the reference). Each is the user's command in a new process
   (JVM start, every stage and gate, Data Docs, report, card), Spark local[--cores].
3. Printed: per stage the seconds of the incremental step and of the full rerun, the wall
   seconds of both commands and their ratio (target: incremental <= 25% of the full rerun),
   and what each kept.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TARGET_RATIO = 0.25


def count_files(folder: Path) -> int:
    return sum(len(files) for _root, _dirs, files in os.walk(folder))


def split_corpus(corpus: Path, min_files: int, work: Path, seed: int = 7) -> dict[str, tuple[Path, int]]:
    """Folders a (~90%), b (~10%) and ab of whole repositories: {name: (folder, files)}."""
    repos, total = [], 0
    every = sorted(p for p in corpus.iterdir() if p.is_dir())
    random.Random(seed).shuffle(every)   # a sample of the corpus's mix, not its first names
    for repo in every:
        if total >= min_files:
            break
        n = count_files(repo)
        repos.append((repo, n))
        total += n
    shuffled = repos[:]
    random.Random(seed).shuffle(shuffled)
    b, b_files = [], 0
    for repo, n in shuffled:
        if b_files >= total * 0.10:
            break
        if b_files + n <= total * 0.15:   # no single huge package as "the new 10%"
            b.append((repo, n))
            b_files += n
    parts = {"a": [r for r in repos if r not in b], "b": b, "ab": repos}
    out = {}
    for name, members in parts.items():
        folder = work / "input" / name
        folder.mkdir(parents=True)
        for repo, _n in members:
            subprocess.run(["cp", "-al", str(repo), str(folder / repo.name)], check=True)
        out[name] = (folder, sum(n for _r, n in members))
    return out


def main(argv=None) -> int:
    from pipeline_real import run_pipeline, stage_figures

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="main", help="real_corpus name (main, large, holdout) or a folder")
    ap.add_argument("--files", type=int, default=33000, help="at least this many files in A∪B (default %(default)s)")
    ap.add_argument("--cores", type=int, default=2, help="Spark local[N] (default 2)")
    ap.add_argument("--work", default="/tmp/codemill-incremental-bench", help="folder for the lakes and logs")
    ap.add_argument("--output", help="write the figures as JSON here")
    args = ap.parse_args(argv)

    import real_corpus
    corpus = Path(args.corpus) if Path(args.corpus).exists() else real_corpus.build(args.corpus)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    parts = split_corpus(corpus, args.files, work)
    print(f"corpus {corpus}: A {parts['a'][1]:,} files, B {parts['b'][1]:,} files "
          f"({parts['b'][1] / parts['ab'][1]:.1%}), A∪B {parts['ab'][1]:,} files")

    runs = {}
    for label, lake, part, extra in (("base (A)", work / "inc-lake", "a", ()),
                                     ("incremental (B)", work / "inc-lake", "b", ("--incremental",)),
                                     ("full rerun (A∪B)", work / "full-lake", "ab", ())):
        run_id = label.split()[0].replace("-", "")
        log = work / f"{run_id}.log"
        print(f"\n{label}: codemill run --input {parts[part][0]}{' ' + ' '.join(extra) if extra else ''}", flush=True)
        wall, to_tokens, code = run_pipeline(parts[part][0], lake, args.cores, run_id, log, extra)
        if code != 0:
            print(log.read_text(errors="replace")[-4000:])
            print(f"{label}: codemill run exited {code}")
            return 1
        runs[label] = {"wall_seconds": round(wall, 1), "seconds_to_tokens": round(to_tokens, 1),
                       "stages": stage_figures(lake, run_id, log.read_text(errors="replace"))}

    inc, ref = runs["incremental (B)"], runs["full rerun (A∪B)"]
    print(f"\n{'stage':14s} {'incr. in':>9s} {'incr. s':>8s} {'gate s':>7s} {'full in':>9s} {'full s':>8s} {'gate s':>7s}")
    full_by = {s["stage"]: s for s in ref["stages"]}
    for s in inc["stages"]:
        f = full_by.get(s["stage"], {})
        print(f"{s['stage']:14s} {s['in']:>9,} {s['seconds']:>8.1f} {s['gate_seconds'] or 0:>7.1f} "
              f"{f.get('in', 0):>9,} {f.get('seconds', 0):>8.1f} {f.get('gate_seconds') or 0:>7.1f}")
    ratio = inc["wall_seconds"] / ref["wall_seconds"]
    ratio_tokens = inc["seconds_to_tokens"] / ref["seconds_to_tokens"]
    print(f"\nincremental step: {inc['wall_seconds']:.1f}s (to the last gate {inc['seconds_to_tokens']:.1f}s); "
          f"full rerun: {ref['wall_seconds']:.1f}s ({ref['seconds_to_tokens']:.1f}s)")
    print(f"ratio: {ratio:.3f} of the full rerun, whole command ({ratio_tokens:.3f} to the last gate); "
          f"target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'NOT met'}")
    if args.output:
        Path(args.output).write_text(json.dumps({"files": {k: v[1] for k, v in parts.items()}, "runs": runs,
                                                 "ratio": round(ratio, 4), "ratio_to_last_gate": round(ratio_tokens, 4)},
                                                indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
