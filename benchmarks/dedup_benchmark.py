"""Near-dedup benchmark on real code: codemill's dedup stage vs a BigCode-style reference.

    .venv/bin/python benchmarks/dedup_benchmark.py [--max-files N] [--cores 2] [--sizes 0.25,0.5,1]

1. Corpus: source distributions of a pinned list of popular pure-Python packages, several
   versions each (`--corpus large` adds Home Assistant, Ansible, transformers and sympy),
   fetched once from PyPI's index (sha256 checked, nothing built) into
   ~/.cache/codemill/bench_sdists (CODEMILL_BENCH_SDISTS overrides). Every .py file in the
   archives is a document; byte-identical files are kept once (both implementations then see
   the same unique-content corpus, and the near-dedup domains are identical). Consecutive
   versions of a package give natural near-duplicates. With --max-files, a seeded sample.
2. codemill: the corpus is written as bronze/files of a fresh lake and the dedup stage runs
   on it in Spark local[cores]; the time is the whole stage (Delta reads and writes, exact
   dedup, signatures, LSH, connected components, outputs).
3. Reference, in the style of the BigCode near-dedup scripts: datasketch MinHash (256
   permutations, SHA-1-32 per shingle, scheme="legacy" = the (a·h+b) mod 2^61−1 family the
   BigCode scripts used) of the set of word 5-grams of tokens split on
   [^A-Za-z_0-9], computed with multiprocessing.Pool(cores); datasketch MinHashLSH at the
   same threshold; union-find over the LSH buckets. Its time starts from the contents already
   in memory (no I/O), which favours it.
4. Both cluster sets are scored against exact-Jaccard ground truth (prefix filtering, exact;
   see jobs/tools/dedup_eval.py), then codemill runs again on 1/4 and 1/2 of the corpus to show
   how time grows.
Prints files/s for both, the ratio and both F1 scores; --output writes the figures as JSON.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import real_corpus  # noqa: E402  (benchmarks/real_corpus.py: the shared PyPI fetching and archive reading)
from real_corpus import FetchError, fetch_sdist, find_sdist  # noqa: E402

# Pinned (name, version): popular pure-Python packages, several versions each.
PACKAGES = [
    ("django", "3.2.25"), ("django", "4.2.16"), ("django", "5.0.9"),
    ("sqlalchemy", "1.4.54"), ("sqlalchemy", "2.0.35"),
    ("requests", "2.25.1"), ("requests", "2.28.2"), ("requests", "2.32.3"),
    ("flask", "2.0.3"), ("flask", "2.2.5"), ("flask", "3.0.3"),
    ("click", "7.1.2"), ("click", "8.1.7"),
    ("werkzeug", "2.0.3"), ("werkzeug", "3.0.4"),
    ("jinja2", "2.11.3"), ("jinja2", "3.1.4"),
]
# --corpus large adds big application code bases (two releases each of Home Assistant's
# integrations and Ansible's collections: plugin code written from shared templates, the
# boilerplate-heavy case near-dedup exists for) — 45,788 unique files.
LARGE_EXTRA = [
    ("homeassistant", "2024.6.4"), ("homeassistant", "2025.1.4"),
    ("ansible", "9.6.1"), ("ansible", "10.7.0"),
    ("transformers", "4.40.0"), ("transformers", "4.46.0"),
    ("sympy", "1.12"),
]
CORPORA = {"standard": PACKAGES, "large": PACKAGES + LARGE_EXTRA}
NON_ALPHA = re.compile("[^A-Za-z_0-9]")


def sdist_dir() -> Path:
    return Path(os.environ.get("CODEMILL_BENCH_SDISTS", Path.home() / ".cache" / "codemill" / "bench_sdists"))


def download(packages=PACKAGES) -> list[tuple[str, str, Path]]:
    """(name, version, archive) of each sdist, fetched once into sdist_dir() (sha256 checked)."""
    folder = sdist_dir()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, version in packages:
        archive = find_sdist(folder, name, version)
        if archive is None:
            print(f"[bench] fetching {name}=={version} from PyPI", flush=True)
            try:
                archive = fetch_sdist(name, version, folder)
            except FetchError as err:
                raise SystemExit(str(err)) from err
        out.append((name, version, archive))
    return out


def archive_members(archive: Path):
    """(member name, bytes) of every .py file in an sdist (.tar.gz or .zip)."""
    return real_corpus.archive_members(archive, want=lambda name: name.endswith(".py"))


def build_corpus(archives, max_files: int | None, seed: int = 0) -> list[dict]:
    """Unique-content .py files of the archives: repo_name = name-version, path inside."""
    seen, docs = set(), []
    for name, version, archive in archives:
        for member, raw in archive_members(archive):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if "\x00" in text:
                continue
            digest = hashlib.sha256(raw).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            path = member.split("/", 1)[1] if "/" in member else member
            docs.append({"repo_name": f"{name}-{version}", "path": path, "content": text, "sha": digest})
    docs.sort(key=lambda d: (d["repo_name"], d["path"]))
    if max_files and len(docs) > max_files:
        docs = random.Random(seed).sample(docs, max_files)
        docs.sort(key=lambda d: (d["repo_name"], d["path"]))
    return docs


# ---- reference: BigCode-style single machine ------------------------------------------------------

_REF = {}


def _ref_init(num_perm: int, seed: int, ngram: int, max_tokens: int) -> None:
    from datasketch import MinHash
    _REF.update(num_perm=num_perm, seed=seed, ngram=ngram, max_tokens=max_tokens)
    # scheme="legacy": (a·h + b) mod (2^61 − 1) masked to 32 bits, SHA-1-32 shingle hashes —
    # what the BigCode scripts ran (datasketch < 2.0); permutations drawn once per process.
    _REF["template"] = MinHash(num_perm=num_perm, seed=seed, scheme="legacy")


def _ref_minhash(item):
    from datasketch import MinHash
    idx, content = item
    tokens = [t for t in NON_ALPHA.split(content) if t][:_REF["max_tokens"]]
    n = _REF["ngram"]
    if len(tokens) < n:
        return idx, None
    shingles = {" ".join(tokens[i:i + n]).encode("utf-8") for i in range(len(tokens) - n + 1)}
    m = MinHash(num_perm=_REF["num_perm"], seed=_REF["seed"], permutations=_REF["template"].permutations,
                scheme="legacy")
    m.update_batch(list(shingles))
    return idx, m.hashvalues


def reference_dedup(contents: list[str], threshold: float, cores: int, num_perm=256, seed=42, ngram=5,
                    max_tokens=100_000) -> tuple[dict, float, dict]:
    """Returns (index → cluster root for files in clusters of size > 1, seconds, info)."""
    from multiprocessing import get_context

    from datasketch import LeanMinHash, MinHash, MinHashLSH

    from udfs.components import UnionFind
    t0 = time.perf_counter()
    with get_context("fork").Pool(cores, initializer=_ref_init, initargs=(num_perm, seed, ngram, max_tokens)) as pool:
        sigs = list(pool.imap_unordered(_ref_minhash, enumerate(contents), chunksize=32))
    t_sig = time.perf_counter() - t0
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for idx, hv in sigs:
        if hv is not None:
            lsh.insert(idx, LeanMinHash(MinHash(num_perm=num_perm, seed=seed, hashvalues=hv, scheme="legacy")),
                       check_duplication=False)
    uf = UnionFind()
    for table in lsh.hashtables:
        for key in table.keys():
            bucket = table.get(key)
            if len(bucket) > 1:
                low = min(bucket)
                for x in bucket:
                    uf.union(low, x)
    labels = {}
    for root, members in uf.groups().items():
        if len(members) > 1:
            for m in members:
                labels[m] = members[0]
    return labels, time.perf_counter() - t0, {"bands": lsh.b, "rows": lsh.r, "signature_seconds": round(t_sig, 2)}


def signature_cpu_seconds(contents: list[str], batch: int = 1000) -> dict:
    """CPU seconds (this process, one core) to MinHash `contents` with codemill's batch numpy
    path and with the reference's per-document datasketch path: a per-core efficiency figure
    that other jobs on a shared machine disturb far less than wall-clock time."""
    from udfs import minhash as mh
    params = mh.MinHashParams()
    torch = mh.optional_torch()
    if torch is not None:      # as in the Spark workers: imported before, one thread
        torch.set_num_threads(1)
    # Both paths run once on a few files first: first-call costs (lazy imports, torch's first
    # kernel) are not per-file work (they made codemill's figure 0.72 s instead of 0.43 s).
    mh.signatures(contents[:20], params)
    _ref_init(256, 42, 5, 100_000)
    for item in enumerate(contents[:20]):
        _ref_minhash(item)
    t0 = time.process_time()
    for i in range(0, len(contents), batch):
        mh.signatures(contents[i:i + batch], params)
    ours = time.process_time() - t0
    t0 = time.process_time()
    for item in enumerate(contents):
        _ref_minhash(item)
    theirs = time.process_time() - t0
    return {"files": len(contents), "codemill_cpu_s": round(ours, 2), "reference_cpu_s": round(theirs, 2),
            "ratio": round(theirs / ours, 2) if ours else None}


# ---- codemill --------------------------------------------------------------------------------------

def codemill_dedup(spark, docs: list[dict], lake_dir: Path, run_id: str, dedup_overrides: dict | None = None):
    import argparse as ap
    import datetime as dt

    from jobs.core.config import load_config
    from jobs.core.lake import Lake
    from jobs.core.stage import StageContext, adopt_tables, execute_stage
    from jobs.stages import dedup, get_stage
    from schemas import table
    rows = [{"file_id": hashlib.sha256(f"{d['repo_name']}\u0000{d['path']}".encode()).hexdigest()[:32],
             "repo_name": d["repo_name"], "path": d["path"], "content": d["content"],
             "size_bytes": len(d["content"].encode()), "content_sha256": d["sha"], "license": "BSD-3-Clause",
             "stars": 0, "source": "bench", "run_id": "bench", "ingested_at": dt.datetime(2024, 1, 1)} for d in docs]
    lake = Lake(spark, lake_dir)
    from jobs.stages import STAGES
    config = load_config(None, {"dedup": dict(dedup_overrides or {})})
    ctx = StageContext(spark=spark, lake=lake, config=config, run_id=run_id,
                       args=ap.Namespace(reuse_signatures=False, verify=None, threshold=None), stages=tuple(STAGES))
    # the files as the filter stage's output of this run (dedup reads silver/filtered by lineage)
    lake.overwrite(spark.createDataFrame(rows, table("bronze/files").schema).repartition(8), "silver/filtered")
    adopt_tables(ctx, get_stage("filter"), ("silver/filtered",))
    t0 = time.perf_counter()
    result = execute_stage(ctx, dedup.STAGE)
    seconds = time.perf_counter() - t0
    index = {r["file_id"]: i for i, r in enumerate(rows)}
    near = lake.read("silver/dup_clusters").where("method = 'near'").select("file_id", "cluster_id").collect()
    return {index[r["file_id"]]: r["cluster_id"] for r in near}, seconds, result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=sorted(CORPORA), default="standard",
                    help="package set: standard (17 sdists, ~6,600 files) or large (~46,000 files)")
    ap.add_argument("--max-files", type=int, default=None, help="seeded sample of the corpus (default: all)")
    ap.add_argument("--cores", type=int, default=2, help="Spark local[N] and reference Pool(N) (default: 2)")
    ap.add_argument("--sizes", default="0.25,0.5,1", help="fractions of the corpus for codemill's scaling runs")
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--work", default="/tmp/codemill-dedup-bench", help="folder for the benchmark lakes")
    ap.add_argument("--output", help="write the figures as JSON here")
    ap.add_argument("--download-only", action="store_true")
    ap.add_argument("--skip-eval", action="store_true", help="skip the exact-Jaccard ground truth")
    ap.add_argument("--verify", action=argparse.BooleanOptionalAction, default=None,
                    help="codemill's exact-Jaccard check of candidate edges (default: dedup.verify from config)")
    ap.add_argument("--bands", type=int, help="codemill's LSH bands (with --rows; default: from the config)")
    ap.add_argument("--rows", type=int, help="codemill's rows per band (with --bands)")
    args = ap.parse_args(argv)
    overrides = {"threshold": args.threshold}
    if args.verify is not None:
        overrides["verify"] = args.verify
    if bool(args.bands) != bool(args.rows):
        ap.error("--bands and --rows go together")
    if args.bands:
        overrides.update(bands=args.bands, rows=args.rows)

    archives = download(CORPORA[args.corpus])
    if args.download_only:
        print(f"{len(archives)} archives in {sdist_dir()}")
        return 0
    docs = build_corpus(archives, args.max_files)
    contents = [d["content"] for d in docs]
    total_bytes = sum(len(c.encode()) for c in contents)
    load0 = os.getloadavg()
    print(f"corpus: {len(docs)} unique .py files, {total_bytes / 1e6:.1f} MB, from {len(archives)} sdists "
          f"({', '.join(sorted({n for n, _, _ in archives}))})", flush=True)
    print(f"machine: {os.cpu_count()} cores visible, using {args.cores}; load average at start "
          f"{load0[0]:.1f} / {load0[1]:.1f} / {load0[2]:.1f} (shared machine: other jobs compete)", flush=True)

    os.environ.setdefault("CODEMILL_DRIVER_MEMORY", "4g")
    os.environ["CODEMILL_SPARK_MASTER"] = f"local[{args.cores}]"
    from jobs.core.session import get_spark
    spark = get_spark("codemill-dedup-bench", {"spark.ui.enabled": "false"})
    work = Path(args.work)
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    # warm-up on a small slice (JVM, Python workers), not timed
    codemill_dedup(spark, docs[:200], work / "warmup", "warmup", overrides)

    cm_labels, cm_seconds, cm_result = codemill_dedup(spark, docs, work / "full", "bench-full", overrides)
    print(f"codemill: {cm_seconds:.1f}s  {len(docs) / cm_seconds:.1f} files/s  "
          f"({cm_result.rejected_by_reason.get('near_duplicate', 0)} near duplicates removed; "
          f"{cm_result.metrics.get('bands')}×{cm_result.metrics.get('rows')} bands"
          f"{', verified: false-positive rate ' + str(cm_result.metrics['verify_false_positive_rate']) if 'verify_false_positive_rate' in cm_result.metrics else ''})",
          flush=True)
    ref_labels, ref_seconds, ref_info = reference_dedup(contents, args.threshold, args.cores)
    ref_removed = len(ref_labels) - len(set(ref_labels.values()))
    print(f"reference (datasketch + Pool({args.cores}) + union-find): {ref_seconds:.1f}s  "
          f"{len(docs) / ref_seconds:.1f} files/s  ({ref_removed} near duplicates removed; "
          f"{ref_info['bands']}×{ref_info['rows']} bands; signatures {ref_info['signature_seconds']}s)", flush=True)
    ratio = ref_seconds / cm_seconds
    print(f"throughput ratio codemill / reference: {ratio:.2f}x", flush=True)

    figures = {"files": len(docs), "bytes": total_bytes, "cores": args.cores, "threshold": args.threshold,
               "codemill_seconds": cm_seconds, "codemill_files_per_s": len(docs) / cm_seconds,
               "reference_seconds": ref_seconds, "reference_files_per_s": len(docs) / ref_seconds,
               "ratio": ratio, "codemill_metrics": cm_result.metrics, "reference_info": ref_info}
    if not args.skip_eval:
        from jobs.tools.dedup_eval import ceilings_line, evaluate_clusters, ground_truth
        truth = ground_truth(contents, args.threshold)
        cm_eval = evaluate_clusters(contents, cm_labels, args.threshold, truth=truth)
        ref_eval = evaluate_clusters(contents, ref_labels, args.threshold, truth=truth, ceilings=False)
        print(f"ground truth: {cm_eval['true_pairs']} pairs with exact Jaccard ≥ {args.threshold} among "
              f"{cm_eval['files_with_shingles']} files ({cm_eval['ground_truth_seconds']}s)")
        for name, ev in (("codemill", cm_eval), ("reference", ref_eval)):
            p, c = ev["pairs"], ev["closure"]
            print(f"  {name:9s} pairs:   P {p['precision']:.4f} R {p['recall']:.4f} F1 {p['f1']:.4f}   "
                  f"closure: P {c['precision']:.4f} R {c['recall']:.4f} F1 {c['f1']:.4f}")
        print(ceilings_line(cm_eval["ceilings"]))
        figures.update(codemill_eval=cm_eval, reference_eval=ref_eval)

    # every k-th file, so the sample spans all packages (the corpus is sorted by package)
    cpu = signature_cpu_seconds(contents[:: max(1, len(contents) // 2000)][:2000])
    print(f"signatures only, one core, CPU time for {cpu['files']} files: codemill {cpu['codemill_cpu_s']}s, "
          f"reference {cpu['reference_cpu_s']}s → {cpu['ratio']}x", flush=True)
    figures["signature_cpu"] = cpu

    scaling = []
    for frac in [float(x) for x in args.sizes.split(",") if x.strip()]:
        if frac >= 1.0:
            scaling.append((len(docs), cm_seconds))
            continue
        sub = docs[: max(1, int(len(docs) * frac))]
        _, secs, _ = codemill_dedup(spark, sub, work / f"scale-{frac}", f"bench-{frac}", overrides)
        scaling.append((len(sub), secs))
    print("codemill scaling (files, seconds, files/s):")
    for n, secs in sorted(scaling):
        print(f"  {n:7d}  {secs:7.1f}s  {n / secs:7.1f}")
    figures["scaling"] = scaling
    load1 = os.getloadavg()
    print(f"load average at end {load1[0]:.1f} / {load1[1]:.1f} / {load1[2]:.1f}")
    figures["loadavg"] = {"start": load0, "end": load1}
    if args.output:
        Path(args.output).write_text(json.dumps(figures, indent=1, default=str))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
