"""Dedup as a user runs it (`spark-submit`, JVM start included) on real mixed-language files
at two sizes, against the BigCode-style reference: fixed cost and per-file marginal cost.

    .venv/bin/python benchmarks/dedup_submit.py [--lake LAKE] [--small 0.24] [--cores 2] [--skip-eval]

1. Input: the files that reach dedup in a real run: silver/filtered of LAKE at its published
   version (default: the lake benchmarks/pipeline_real.py leaves — the real corpus of many
   languages after ingest, select and filter, every gate on). Two lakes are made from it:
   all of those files, and a seeded sample of `--small` of them (at least 4x fewer), each
   holding silver/filtered published as a passed filter gate would.
2. codemill: `spark-submit jobs/submit.py dedup --lake L --no-gate` in a fresh process per
   size, timed from process start to exit. Its start-up (process start to the stage's first
   line, "dedup: started": JVM, jars, session) is read off its log; fixed cost and marginal
   cost per file come from the two sizes (T = fixed + marginal x files).
3. Reference, in the same script on the same cores: benchmarks/dedup_benchmark.py's
   BigCode-style run (datasketch MinHash in a Pool(cores), MinHashLSH insert + query,
   union-find) over the same files' contents, already in memory; the same fit.
4. Pair F1 against exact Jaccard >= threshold on the small size (distinct contents), for both.
Targets (issue: the whole pipeline on real code at scale): codemill fixed <= 10 s, marginal
>= 5x below the reference's, the ratio >= 1.5x at ~20,000 files and >= 3x at 100,000
(extrapolated from the fit when the corpus has fewer).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

STARTED = re.compile(r"^\s*(\d\d:\d\d:\d\d)\S* .*dedup: started")


def make_lake(spark, rows, lake: Path) -> None:
    from jobs.core.lake import Lake
    from jobs.core.publish import publish
    from jobs.core.stage import StageContext, adopt_tables
    from jobs.core.config import load_config
    from jobs.stages import STAGES, get_stage
    from schemas import table
    shutil.rmtree(lake, ignore_errors=True)
    ctx = StageContext(spark=spark, lake=Lake(spark, lake), config=load_config(), run_id="input", stages=tuple(STAGES))
    df = spark.createDataFrame(rows, table("silver/filtered").schema).repartition(8)
    version = ctx.lake.overwrite(df, "silver/filtered")
    adopt_tables(ctx, get_stage("filter"), ("silver/filtered",))
    publish(lake, {"silver/filtered": version}, "input", "filter", "benchmark input")


def run_submit(lake: Path, cores: int, log: Path) -> dict:
    env = {**os.environ, "CODEMILL_SPARK_MASTER": f"local[{cores}]"}
    cmd = [str(Path(sys.executable).parent / "spark-submit"), str(ROOT / "jobs" / "submit.py"), "dedup",
           "--lake", str(lake), "--run-id", "bench", "--no-gate"]
    start_wall = dt.datetime.now()
    t0 = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT).returncode
    seconds = time.perf_counter() - t0
    text = log.read_text(errors="replace")
    if code != 0:
        raise SystemExit(f"spark-submit dedup failed ({code}):\n{text[-3000:]}")
    startup = None
    for line in text.splitlines():
        m = STARTED.match(line)
        if m:
            at = dt.datetime.combine(start_wall.date(), dt.time.fromisoformat(m.group(1)))
            startup = max(0.0, (at - start_wall.replace(microsecond=0)).total_seconds())
            break
    return {"seconds": seconds, "startup_seconds": startup}


def fit(small: tuple[int, float], large: tuple[int, float]) -> tuple[float, float]:
    (n1, t1), (n2, t2) = small, large
    marginal = (t2 - t1) / (n2 - n1)
    return t1 - marginal * n1, marginal


def labels_of(lake: Path, file_ids: list[str]) -> dict[int, str]:
    from jobs.core.delta_read import query
    index = {f: i for i, f in enumerate(file_ids)}
    rows = query(str(lake / "silver" / "dup_clusters"), "SELECT file_id, cluster_id FROM t").to_pylist()
    return {index[r["file_id"]]: r["cluster_id"] for r in rows if r["file_id"] in index}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", default="/tmp/codemill-pipeline-bench/lake")
    ap.add_argument("--small", type=float, default=0.24, help="share of the files in the small size (default 0.24)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--work", default="/tmp/codemill-dedup-submit")
    ap.add_argument("--skip-eval", action="store_true")
    args = ap.parse_args(argv)

    import dedup_benchmark as ref
    from jobs.core.delta_read import query
    from jobs.core.publish import published_version
    from jobs.core.session import get_spark

    source = Path(args.lake)
    version = published_version(source, "silver/filtered")
    if version is None:
        print(f"{source} has no published silver/filtered: run benchmarks/pipeline_real.py first", file=sys.stderr)
        return 2
    table = query(str(source / "silver" / "filtered"), "SELECT * FROM t ORDER BY file_id", version=version)
    rows = table.to_pylist()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    small_rows = sorted(random.Random(1).sample(rows, int(len(rows) * args.small)), key=lambda r: r["file_id"])
    sizes = {"small": small_rows, "large": rows}
    langs = {}
    for r in rows:
        langs[r["language"]] = langs.get(r["language"], 0) + 1
    top = ", ".join(f"{k} {v:,}" for k, v in sorted(langs.items(), key=lambda kv: -kv[1])[:8])
    print(f"input: silver/filtered v{version} of {source}: {len(rows):,} files, "
          f"{sum(r['size_bytes'] for r in rows) / 1e6:.0f} MB ({top}, ...); small size {len(small_rows):,} "
          f"({len(rows) / len(small_rows):.1f}x fewer)")
    print(f"machine: {os.cpu_count()} cores, using {args.cores}; load average {os.getloadavg()[0]:.1f}", flush=True)

    os.environ["CODEMILL_SPARK_MASTER"] = f"local[{args.cores}]"
    spark = get_spark("codemill-dedup-submit-setup", {"spark.ui.enabled": "false"})
    for name, part in sizes.items():
        make_lake(spark, part, work / name)
    spark.stop()

    figures = {}
    for name, part in sizes.items():
        cm = run_submit(work / name, args.cores, work / f"{name}.log")
        contents = [r["content"] for r in part]
        _, ref_seconds, info = ref.reference_dedup(contents, args.threshold, args.cores)
        figures[name] = {"files": len(part), "codemill": cm, "reference_seconds": ref_seconds}
        print(f"{name:6s} {len(part):>7,} files: codemill spark-submit {cm['seconds']:6.1f}s (start-up "
              f"{cm['startup_seconds']}s) | reference {ref_seconds:6.1f}s (signatures {info['signature_seconds']}s) "
              f"| ratio {ref_seconds / cm['seconds']:.2f}x", flush=True)

    n1, n2 = figures["small"]["files"], figures["large"]["files"]
    cm_fixed, cm_marg = fit((n1, figures["small"]["codemill"]["seconds"]), (n2, figures["large"]["codemill"]["seconds"]))
    rf_fixed, rf_marg = fit((n1, figures["small"]["reference_seconds"]), (n2, figures["large"]["reference_seconds"]))
    print(f"\nfit T = fixed + marginal x files (from {n1:,} and {n2:,} files):")
    print(f"  codemill   fixed {cm_fixed:6.1f}s  marginal {cm_marg * 1e3:.3f} ms/file (start-up measured "
          f"{figures['small']['codemill']['startup_seconds']}s / {figures['large']['codemill']['startup_seconds']}s)")
    print(f"  reference  fixed {rf_fixed:6.1f}s  marginal {rf_marg * 1e3:.3f} ms/file")
    print(f"  marginal ratio reference / codemill: {rf_marg / cm_marg:.2f}x (target >= 5); codemill fixed "
          f"{cm_fixed:.1f}s (target <= 10)")
    for n in (20_000, 100_000):
        ratio = (rf_fixed + rf_marg * n) / (cm_fixed + cm_marg * n)
        print(f"  at {n:,} files (from the fit): ratio {ratio:.2f}x (target >= {1.5 if n == 20_000 else 3})")

    if not args.skip_eval:
        from jobs.tools.dedup_eval import evaluate_clusters, ground_truth
        part = small_rows
        first = {}
        for i, r in enumerate(part):
            first.setdefault(r["content_sha256"], i)
        keep = sorted(first.values())
        contents = [part[i]["content"] for i in keep]
        cm_all = labels_of(work / "small", [r["file_id"] for r in part])
        cm_labels = {j: cm_all[i] for j, i in enumerate(keep) if i in cm_all}
        ref_all, _, _ = ref.reference_dedup([r["content"] for r in part], args.threshold, args.cores)
        ref_labels = {j: ref_all[i] for j, i in enumerate(keep) if i in ref_all}
        truth = ground_truth(contents, args.threshold)
        for name, labels in (("codemill", cm_labels), ("reference", ref_labels)):
            ev = evaluate_clusters(contents, labels, args.threshold, truth=truth, ceilings=False)
            p = ev["pairs"]
            print(f"  {name:9s} pair P {p['precision']:.4f} R {p['recall']:.4f} F1 {p['f1']:.4f} "
                  f"({len(contents):,} distinct contents of the small size; {ev['true_pairs']} true pairs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
