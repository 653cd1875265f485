"""Dedup stage: exact (content hash) then near (MinHash LSH + connected components).

    codemill dedup --lake DIR [--reuse-signatures] [--incremental] [--no-verify] [--threshold 0.7]

Input: silver/filtered. Outputs:

* silver/deduped — the input rows that survive, unchanged;
* silver/dup_clusters — one row per file that is in a duplicate cluster: cluster_id (the
  file_id of the one file silver/deduped keeps for the cluster), method exact|near (how this
  file was matched), kept (true for the survivor only); see cluster_rows and docs/dedup.md;
* silver/minhash_signatures — the MinHash signature of every file that went into near dedup
  (an EMPTY signature for files with fewer tokens than the n-gram size: they are left out of
  near dedup, see udfs/minhash.py);
* silver/rejections — reason exact_duplicate / near_duplicate, detail = the survivor's file_id.

Keep rule (one survivor per cluster, deterministic): higher licence rank first (license_type
permissive > no_license > non_permissive when the input has it, else a detected licence
before none; docs/recipe.md §4.1/§4.4), then more stars, then the smallest file_id.

Near dedup (docs/recipe.md §4.3): signatures are computed per Arrow batch with numpy and torch
(udfs.minhash.signatures); band b of a signature is bucketed by a 64-bit hash of its `rows`
values (udfs.minhash.band_hashes); each bucket links every member to the bucket's smallest
member (star edges, so a huge boilerplate bucket yields n−1 edges, never n²); clusters are the
connected components of those edges, computed in Spark by alternating large-star / small-star
(Kiveris et al., "Connected Components in MapReduce and Beyond", 2014) until every component
is a star around its minimum node. Verification (dedup.verify, on by default; `--no-verify`
turns it off) drops candidate edges whose Jaccard is below the threshold and reports the share
it dropped (ops/runs metrics verify_false_positive_rate): the signature estimate decides pairs
at least dedup.verify_margin from the threshold, exact Jaccard (64-bit shingle hashes) the
pairs in between (verify_edges), one star of doubtful edges at a time (star_jaccards). It
checks the star edges, i.e. each member against its bucket's minimum: a member similar to
another member but not to the minimum loses that edge (it may still join through another band)
— the price of never listing a bucket's n² pairs.

`--reuse-signatures` reuses stored signatures (same file_id, same content_sha256, same MinHash
parameters) and computes only the missing ones; bucketing, components and the keep rule then
run over the whole input, so the result equals a full run. `--incremental` (an incremental
run, jobs/core/incremental.py) instead matches only this run's new files against the
published survivors: jobs/stages/dedup_incremental.py.
"""
from __future__ import annotations

import argparse
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from jobs.core.config import DedupConfig
from jobs.core.errors import UserError
from jobs.core.stage import Stage, StageContext, StageResult, write_rejections
from udfs import minhash as mh

INPUT = "silver/filtered"
EXACT, NEAR = "exact_duplicate", "near_duplicate"


def add_arguments(parser) -> None:
    parser.add_argument("--reuse-signatures", action="store_true", default=None,
                        help="reuse stored MinHash signatures; compute only those of new or changed files")
    parser.add_argument("--verify", action=argparse.BooleanOptionalAction, default=None,
                        help="drop LSH candidate pairs whose exact Jaccard is below the threshold "
                             "(default from config: on)")
    parser.add_argument("--threshold", type=float, help="Jaccard threshold (default from config: 0.7)")


def config_overrides(args) -> dict:
    given = {"threshold": getattr(args, "threshold", None), "verify": getattr(args, "verify", None),
             "reuse_signatures": getattr(args, "reuse_signatures", None)}
    return {"dedup": {k: v for k, v in given.items() if v is not None}}


# ---- keep rule -----------------------------------------------------------------------------

def license_rank_col(columns: list[str]):
    """Spark twin of udfs.minhash.license_rank."""
    from pyspark.sql import functions as F
    if "license_type" in columns:
        expr = F.lit(-1)
        for value, rank in mh.LICENSE_RANK.items():
            expr = F.when(F.col("license_type") == value, F.lit(rank)).otherwise(expr)
        return expr
    return F.when(F.col("license").isNotNull(), F.lit(1)).otherwise(F.lit(0))


def keep_order():
    """Sort order of the keep rule: the first row of a cluster survives (udfs.minhash.keep_sort_key)."""
    from pyspark.sql import functions as F
    return [F.col("_rank").desc(), F.coalesce(F.col("stars"), F.lit(-1)).desc(), F.col("file_id").asc()]


def pick_survivors(df, group_col: str):
    """Add _n (1 = survivor) and _survivor (its file_id) within each group, by the keep rule."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    ordered = Window.partitionBy(group_col).orderBy(*keep_order())
    whole = ordered.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    return (df.withColumn("_n", F.row_number().over(ordered))
              .withColumn("_survivor", F.first("file_id").over(whole))
              .withColumn("_size", F.count(F.lit(1)).over(Window.partitionBy(group_col))))


# ---- signatures and bands ------------------------------------------------------------------

PASSTHROUGH = ("file_id", "repo_name", "path", "content_sha256")
SLICE_ROWS = 2000
SIGNATURE_DDL = "file_id string, repo_name string, path string, content_sha256 string, signature array<bigint>"


def signature_batches(params: mh.MinHashParams, chunk: int = 1024):
    """mapInArrow function: (file_id, repo_name, path, content_sha256, content) batches →
    the same without content, plus signature."""
    import numpy as np
    import pyarrow as pa

    def compute(batches):
        torch = mh.optional_torch()
        if torch is not None:
            # One Spark task per core: torch's own thread pool would oversubscribe it.
            torch.set_num_threads(1)
        for whole in batches:
            # An Arrow batch holds spark.sql.execution.arrow.maxRecordsPerBatch rows (Spark's
            # default 10,000; codemill's local default 1,000); numpy's passes over slices of
            # SLICE_ROWS documents touch less memory (10,000 real files: 8.6 s of CPU in
            # slices of 2,000, 10.8 s in one batch).
            for start in range(0, whole.num_rows, SLICE_ROWS):
                batch = whole.slice(start, SLICE_ROWS)
                sig, has = mh.signatures(batch.column("content"), params, chunk=chunk)
                lengths = np.where(has, params.num_perm, 0)
                offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
                values = pa.array(sig[has].reshape(-1).astype(np.int64))
                sigs = pa.ListArray.from_arrays(pa.array(offsets), values)
                yield pa.RecordBatch.from_arrays([batch.column(c) for c in PASSTHROUGH] + [sigs],
                                                 names=[*PASSTHROUGH, "signature"])
    return compute


def compute_signatures(df, params: mh.MinHashParams, chunk: int = 1024):
    """(file_id, repo_name, path, content_sha256, content) → the same without content, plus
    signature array<bigint>, computed per Arrow batch."""
    return df.select(*PASSTHROUGH, "content").mapInArrow(signature_batches(params, chunk), SIGNATURE_DDL)


def band_keys(df, bands: int, rows: int, node_col: str = "node"):
    """(node, signature) → (node, band, h): one row per band, h = udfs.minhash.band_hashes of
    the band's rows, computed per Arrow batch with numpy (Spark's per-row array slicing,
    hashing and explode took twice as long). Every signature must be non-empty."""
    import numpy as np
    import pyarrow as pa

    def compute(batches):
        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue
            values = batch.column("signature").flatten().to_numpy()
            if len(values) % n:
                raise ValueError("band_keys needs signatures of equal length")
            h = mh.band_hashes(values.reshape(n, -1), bands, rows)   # raises if shorter than bands × rows
            yield pa.RecordBatch.from_arrays(
                [batch.column(node_col).take(pa.array(np.repeat(np.arange(n), bands))),
                 pa.array(np.tile(np.arange(bands, dtype=np.int32), n)), pa.array(h.reshape(-1))],
                names=[node_col, "band", "h"])

    node_type = df.schema[node_col].dataType.simpleString()
    return df.select(node_col, "signature").mapInArrow(compute, f"{node_col} {node_type}, band int, h bigint")


def estimated_jaccard_col(sig_a, sig_b, num_perm: int):
    """Spark column twin of udfs.minhash.estimated_jaccard: the share of equal positions of two
    MinHash signatures (array columns)."""
    from pyspark.sql import functions as F
    equal = F.zip_with(sig_a, sig_b, lambda x, y: F.when(x == y, 1).otherwise(0))
    return F.aggregate(equal, F.lit(0), lambda acc, x: acc + x) / F.lit(num_perm)


def small_side(df, rows: int, cfg: DedupConfig):
    """`df` marked for a broadcast join when at most dedup.broadcast_max_rows rows: the other,
    content-carrying side is then filtered where it lies instead of being shuffled."""
    from pyspark.sql import functions as F
    return F.broadcast(df) if rows <= cfg.broadcast_max_rows else df


def node_ids(spark, sigs):
    """(file_id, ...) → (+ node, fallback used, row count): node is a long that orders like
    file_id. file_ids are 32 hex digits of a SHA-256, so the first 15 give a 60-bit id; if two
    ids ever collide (or a file_id is not hex) the ids fall back to the rank of file_id (a
    sort + zipWithIndex)."""
    from pyspark.sql import functions as F
    with_node = sigs.withColumn("node", F.conv(F.substring("file_id", 1, 15), 16, 10).cast("long"))
    stats = with_node.agg(F.count(F.lit(1)).alias("n"), F.countDistinct("node").alias("d"),
                          F.count("node").alias("nn")).collect()[0]
    if stats["n"] == stats["d"] == stats["nn"]:
        return with_node, False, stats["n"]
    ranked = (sigs.select("file_id").rdd.map(lambda r: r[0]).sortBy(lambda x: x)
              .zipWithIndex().toDF("file_id string, node long"))
    return sigs.join(ranked, "file_id"), True, stats["n"]


def candidate_edges(bands_df):
    """Star edges (src > dst): every bucket member linked to the bucket's smallest node. The
    minimum comes from a window over the bucket (one shuffle; a group-by joined back took two
    and 1.5× the time)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    bucket = Window.partitionBy("band", "h")
    return (bands_df.withColumn("center", F.min("node").over(bucket))
            .where(F.col("node") != F.col("center"))
            .select(F.col("node").alias("src"), F.col("center").alias("dst"))
            .distinct())


PAIR_DDL = "src long, dst long, jaccard double"


def star_jaccards(ngram: int, max_tokens: int):
    """mapInArrow function over rows (centre, node, content) sorted by centre, every star
    complete (the centre's own row included): → (src=node, dst=centre, exact Jaccard) for
    each node ≠ centre. A star may arrive split across Arrow batches, so the rows of the last
    star of a batch wait for the next one."""
    import numpy as np
    import pyarrow as pa

    def jaccards(rows: pa.Table):
        centre = rows.column("centre").to_numpy()
        node = rows.column("node").to_numpy()
        # A node that is a leaf of several stars is tokenized once.
        distinct, first_row = np.unique(node, return_index=True)
        sets = dict(zip(distinct.tolist(), mh.batch_shingle_sets(
            rows.column("content").combine_chunks().take(pa.array(first_row)), ngram, max_tokens)))
        leaves = np.flatnonzero(node != centre)
        sims = [mh.sorted_jaccard(sets[n], sets[c]) for n, c in zip(node[leaves].tolist(), centre[leaves].tolist())]
        return pa.RecordBatch.from_arrays([pa.array(node[leaves]), pa.array(centre[leaves]), pa.array(sims, pa.float64())],
                                          names=["src", "dst", "jaccard"])

    def verify(batches):
        pending = None
        for batch in batches:
            rows = pa.Table.from_batches([batch]) if pending is None else pa.concat_tables([pending, pa.Table.from_batches([batch])])
            if rows.num_rows == 0:
                continue
            centre = rows.column("centre").to_numpy()
            cut = int(np.searchsorted(centre, centre[-1], side="left"))
            if cut:
                yield jaccards(rows.slice(0, cut))
            pending = rows.slice(cut)
        if pending is not None and pending.num_rows:
            yield jaccards(pending)
    return verify


def verify_edges(ctx: StageContext, cfg: DedupConfig, files, nodes, edges, n_candidates: int, checkpoint, metrics: dict):
    """Candidate edges whose Jaccard reaches the threshold.

    The 256-permutation estimate (share of equal signature positions) decides the clear
    cases: its standard error is sqrt(J(1−J)/num_perm) ≤ 0.031, so with dedup.verify_margin
    = 0.15 (≥ 4.8 standard errors) a pair estimated at or above threshold + margin is kept
    and one at or below threshold − margin dropped, each wrong with probability below 1e-5.
    Only the pairs in between are checked by exact Jaccard over their contents, which are
    fetched by a broadcast filter of the needed files (no shuffle of the whole table) and
    sent to Python one star (a bucket centre and its doubtful members) at a time.
    verify_margin: null checks every candidate pair exactly.
    """
    from pyspark.sql import functions as F

    params: mh.MinHashParams = cfg.params
    t, margin = cfg.threshold, cfg.verify_margin
    sig = nodes.select("node", "signature")
    scored = checkpoint(
        edges.join(sig.select(F.col("node").alias("src"), F.col("signature").alias("sig_src")), "src")
             .join(sig.select(F.col("node").alias("dst"), F.col("signature").alias("sig_dst")), "dst")
             .select("src", "dst", estimated_jaccard_col(F.col("sig_src"), F.col("sig_dst"), params.num_perm).alias("estimate")))
    if margin is None:
        sure, doubtful = scored.limit(0), scored
    else:
        margin = float(margin)
        sure = scored.where(F.col("estimate") >= t + margin)
        doubtful = scored.where((F.col("estimate") > t - margin) & (F.col("estimate") < t + margin))
    doubtful = checkpoint(doubtful.select("src", "dst"))
    n_doubtful = doubtful.count()
    passed = doubtful.limit(0)
    if n_doubtful:
        # Each doubtful edge joins a node to its bucket's centre: group the edges into stars
        # around their centres and send every star's files to Python together, so a file's
        # content is read once and shuffled once per star it is in (joining content to both
        # ends of every pair scanned it twice and shuffled it three times).
        members = (doubtful.select(F.col("dst").alias("centre"), F.col("src").alias("node"))
                   .unionByName(doubtful.select(F.col("dst").alias("centre"), F.col("dst").alias("node")))
                   .distinct())
        needed = nodes.select("file_id", "node").join(members, "node")
        stars = (files.select("file_id", "content").join(small_side(needed, 2 * n_doubtful, cfg), "file_id")
                 .select("centre", "node", "content")
                 .repartition("centre").sortWithinPartitions("centre", "node"))
        checked = stars.mapInArrow(star_jaccards(params.ngram, params.max_tokens), PAIR_DDL)
        passed = checked.where(F.col("jaccard") >= t).select("src", "dst")
    kept = checkpoint(sure.select("src", "dst").unionByName(passed))
    n_kept = kept.count()
    metrics.update(verified_edges=n_kept, verify_exact_checked=n_doubtful,
                   verify_margin=margin, verify_false_positive_rate=round(1.0 - n_kept / n_candidates, 6))
    ctx.log(f"dedup: verification kept {n_kept} of {n_candidates} candidate edges "
            f"({n_doubtful} checked by exact Jaccard, the rest decided by the signature estimate)")
    return kept


# ---- connected components --------------------------------------------------------------------

def _large_star(e):
    """Each node links its larger neighbours to the minimum of its closed neighbourhood."""
    from pyspark.sql import functions as F
    nb = e.select(F.col("src").alias("n"), F.col("dst").alias("m")).unionByName(
        e.select(F.col("dst").alias("n"), F.col("src").alias("m")))
    mins = nb.groupBy("n").agg(F.least(F.min("m"), F.col("n")).alias("mn"))
    return (nb.where(F.col("m") > F.col("n")).join(mins, "n")
              .select(F.col("m").alias("src"), F.col("mn").alias("dst")).distinct())


def _small_star(e):
    """Each node links itself and its smaller neighbours to the minimum of those."""
    from pyspark.sql import functions as F
    mins = e.groupBy("src").agg(F.min("dst").alias("mn"))
    moved = (e.join(mins, "src").where(F.col("dst") != F.col("mn"))
              .select(F.col("dst").alias("src"), F.col("mn").alias("dst")))
    return moved.unionByName(mins.select("src", F.col("mn").alias("dst"))).distinct()


def connected_components(edges, max_iterations: int = 40, checkpoint=None, log=None):
    """Connected components of an undirected graph given as a DataFrame (src long, dst long).

    Returns ((node, component) for every node that has an edge — component = the smallest
    node of its component — and the number of rounds). Edges are kept oriented src > dst;
    rounds of large-star then small-star run until the graph is a forest of stars (no node
    is both a leaf and a centre), which each step leaves unchanged; then every leaf's
    centre is its component's minimum. `checkpoint(df)` cuts the lineage after each step.
    """
    from pyspark.sql import functions as F
    checkpoint = checkpoint or (lambda df: df.localCheckpoint(eager=True))
    spark = edges.sparkSession
    e = (edges.select(F.greatest("src", "dst").alias("src"), F.least("src", "dst").alias("dst"))
              .where(F.col("src") != F.col("dst")).distinct())
    e = checkpoint(e)
    if e.limit(1).count() == 0:
        return spark.createDataFrame([], "node long, component long"), 0
    for rounds in range(1, max_iterations + 1):
        e = checkpoint(_large_star(e))
        e = checkpoint(_small_star(e))
        centres = e.select(F.col("dst").alias("node")).distinct()
        not_star = e.join(centres, e.src == centres.node, "left_semi").limit(1).count()
        if log:
            log(f"dedup: connected components round {rounds}: {'converged' if not not_star else 'not yet'}")
        if not not_star:
            break
    else:
        raise RuntimeError(f"connected components did not converge in {max_iterations} rounds "
                           f"(raise dedup.max_cc_iterations)")
    labels = (e.select(F.col("src").alias("node"), F.col("dst").alias("component"))
               .unionByName(e.select(F.col("dst").alias("node"), F.col("dst").alias("component")))
               .distinct())
    return labels, rounds


# ---- duplicate clusters ------------------------------------------------------------------------

def cluster_rows(exact_members, near):
    """silver/dup_clusters: ONE row per file that is in a duplicate cluster (docs/dedup.md).

    A cluster is everything that collapses onto one survivor: the near-duplicate component of
    the exact survivors, plus the byte-identical copies of each of its members. So
    `cluster_id` is the file_id of the file silver/deduped keeps for it, `kept` is true for
    that file only, and `method` says how the row's file was matched: `exact` for a copy
    removed by exact dedup (and for the survivor of an exact group that has no near
    duplicate), `near` for a member of a near-duplicate component (survivor included).

    exact_members: rows of exact groups of two or more files (file_id, repo_name, path,
    _survivor = the group's representative, _n = 1 for it); near: the component members
    (file_id, repo_name, path, _survivor = the component's survivor, _n = 1 for it).
    """
    from pyspark.sql import functions as F

    final = near.select(F.col("file_id").alias("_rep"), F.col("_survivor").alias("_final"))
    exact = (exact_members.join(final, exact_members["_survivor"] == final["_rep"], "left")
             # a representative that is also in a near component gets its row from `near`
             .where(~((F.col("_n") == 1) & F.col("_final").isNotNull()))
             .select("file_id", "repo_name", "path",
                     F.coalesce("_final", "_survivor").alias("cluster_id"), F.lit("exact").alias("method"),
                     ((F.col("_n") == 1) & F.col("_final").isNull()).alias("kept")))
    near_rows = near.select("file_id", "repo_name", "path", F.col("_survivor").alias("cluster_id"),
                            F.lit("near").alias("method"), (F.col("_n") == 1).alias("kept"))
    return exact.unionByName(near_rows)


# ---- the stage -----------------------------------------------------------------------------

def _checkpointer(ctx: StageContext):
    """Reliable checkpoints under the lake (visible to every executor), removed at the end."""
    folder = ctx.lake.root / "_checkpoints" / f"dedup-{uuid.uuid4().hex[:8]}"
    ctx.spark.sparkContext.setCheckpointDir(str(folder))
    return (lambda df: df.checkpoint(eager=True)), folder


def step_logger(ctx: StageContext, label: str):
    """`step("message")` logs "label: message (t=…s)", the seconds since this call."""
    t0 = time.perf_counter()
    return lambda message: ctx.log(f"{label}: {message} (t={time.perf_counter() - t0:.1f}s)")


def run(ctx: StageContext) -> StageResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    cfg = ctx.config.dedup
    params: mh.MinHashParams = cfg.params
    bands, rows = cfg.layout()
    step = step_logger(ctx, "dedup")

    input_name = INPUT
    src = ctx.read_input(INPUT)
    files = src.withColumn("_rank", license_rank_col(src.columns))
    ctx.log(f"dedup: input {input_name}; threshold {cfg.threshold}, {params.num_perm} permutations, "
            f"{bands} bands × {rows} rows, {params.ngram}-grams"
            f"{', verify' if cfg.verify else ''}{', reusing signatures' if cfg.reuse_signatures else ''}")

    # ---- exact: one survivor per content_sha256 ----
    ids = files.select("file_id", "repo_name", "path", "content_sha256", "_rank", "stars", "size_bytes",
                       *(["language"] if "language" in files.columns else []))
    exact = pick_survivors(ids, "content_sha256").persist(StorageLevel.MEMORY_AND_DISK)
    totals = exact.agg(F.count(F.lit(1)).alias("n"), F.sum("size_bytes").alias("b")).collect()[0]
    rows_in, bytes_in = totals["n"], totals["b"] or 0
    exact_rejected = (exact.where("_n > 1")
                      .select("file_id", "repo_name", "path", F.lit(EXACT).alias("reason"),
                              F.col("_survivor").alias("detail"), "size_bytes",
                              *(["language"] if "language" in exact.columns else [])))
    exact_members = exact.where("_size > 1").select("file_id", "repo_name", "path", "_survivor", "_n")
    survivors = exact.where("_n = 1").drop("_n", "_survivor", "_size")
    step(f"exact dedup over {rows_in} files")

    # ---- signatures (stored ones reused in incremental mode) ----
    sig_name = "silver/minhash_signatures"
    key = params.key()
    chunk = cfg.minhash_chunk
    wanted = survivors.select("file_id", "content_sha256")
    if cfg.reuse_signatures and ctx.lake.exists(sig_name):
        stored = (ctx.lake.read(sig_name).where(F.col("minhash_params") == key)
                  .select("file_id", "content_sha256"))
        todo = wanted.join(stored, ["file_id", "content_sha256"], "left_anti")
    else:
        todo = wanted
    todo_files = files.join(small_side(todo, rows_in, cfg), ["file_id", "content_sha256"], "left_semi")
    new_sigs = (compute_signatures(todo_files, params, chunk)
                .withColumn("minhash_params", F.lit(key)).withColumn("run_id", F.lit(ctx.run_id)))
    if cfg.reuse_signatures and ctx.lake.exists(sig_name):
        sig_version = ctx.lake.upsert(new_sigs, sig_name, ("file_id",))
    else:
        sig_version = ctx.lake.overwrite(new_sigs, sig_name)
    sig_rows = (ctx.lake.read(sig_name).where(F.col("minhash_params") == key)
                .join(wanted, ["file_id", "content_sha256"], "left_semi"))
    # Counted without the signature column (a pass over the arrays costs ~1 s per 45k files);
    # the short ones are the rows node_ids does not count below.
    counts = sig_rows.agg(F.count(F.lit(1)).alias("rows"),
                          F.sum((F.col("run_id") == ctx.run_id).cast("long")).alias("computed")).collect()[0]
    computed = counts["computed"] or 0
    # Cached, not checkpointed: band keys, verification and survivor choice read it four more
    # times, and a checkpoint (serialized rows) made each read decode every signature again.
    # The cache fills on node_ids' first pass; if evicted it is rebuilt from the Delta table.
    usable = sig_rows.where(F.size("signature") > 0).select("file_id", "signature").persist(StorageLevel.MEMORY_AND_DISK)
    step(f"signatures ready ({computed} computed" + (", the rest reused)" if cfg.reuse_signatures else ")"))

    # ---- LSH candidate edges ----
    checkpoint, ckpt_dir = _checkpointer(ctx)
    try:
        nodes, fallback_ids, n_usable = node_ids(ctx.spark, usable)
        short_docs = counts["rows"] - n_usable
        nodes = nodes.select("file_id", "node", "signature")
        if fallback_ids:
            nodes = checkpoint(nodes)
        edges = checkpoint(candidate_edges(band_keys(nodes, bands, rows)))
        n_candidates = edges.count()
        step(f"{n_candidates} candidate edges from LSH buckets")
        metrics = {"input_table": input_name, "threshold": cfg.threshold, "num_perm": params.num_perm,
                   "bands": bands, "rows": rows, "ngram_size": params.ngram,
                   "candidate_edges": n_candidates, "short_docs_skipped": short_docs,
                   "reuse_signatures": cfg.reuse_signatures, "verify": cfg.verify}
        metrics["signatures_computed"] = computed
        if fallback_ids:
            metrics["node_id_fallback"] = True
        if cfg.verify and n_candidates:
            edges = verify_edges(ctx, cfg, files, nodes, edges, n_candidates, checkpoint, metrics)
            step("candidate edges verified")

        # ---- clusters and survivors ----
        labels, rounds = connected_components(edges, cfg.max_cc_iterations, checkpoint, ctx.log)
        metrics["cc_rounds"] = rounds
        step(f"connected components in {rounds} rounds")
        members = (labels.join(nodes.select("file_id", "node"), "node")
                   .join(survivors, "file_id").select(*survivors.columns, "component"))
        near = checkpoint(pick_survivors(members, "component"))
        near_rejected = (near.where("_n > 1")
                         .select("file_id", "repo_name", "path", F.lit(NEAR).alias("reason"),
                                 F.col("_survivor").alias("detail"), "size_bytes",
                                 *(["language"] if "language" in near.columns else [])))
        clusters = cluster_rows(exact_members, near)
        metrics["near_clusters"] = near.where("_n = 1").count()
        step(f"{metrics['near_clusters']} near-duplicate clusters, survivors picked")

        rejected = checkpoint(exact_rejected.unionByName(near_rejected))
        stats = rejected.groupBy("reason").agg(F.count(F.lit(1)).alias("n"), F.sum("size_bytes").alias("b")).collect()
        by_reason = {r["reason"]: r["n"] for r in stats}
        rejected_bytes = sum(r["b"] or 0 for r in stats)
        clusters = clusters.withColumn("run_id", F.lit(ctx.run_id))
        rows_rejected = sum(by_reason.values())
        deduped = src.join(small_side(rejected.select("file_id"), rows_rejected, cfg), "file_id", "left_anti")

        def write_small_tables():
            """Rejections and clusters: small rows, so their time is Delta's fixed cost per
            commit (driver-side snapshot jobs and the commit itself), which overlaps well with
            the CPU-bound rewrite of the content in silver/deduped."""
            rejections_version = write_rejections(ctx, STAGE.name, rejected)
            step("rejections written")
            return rejections_version, ctx.lake.overwrite(clusters, "silver/dup_clusters")

        with ThreadPoolExecutor(max_workers=1) as pool:
            small_tables = pool.submit(write_small_tables)
            deduped_version = ctx.lake.overwrite(deduped, "silver/deduped")
            step("silver/deduped written")
            rejections_version, clusters_version = small_tables.result()
            versions = {"silver/deduped": deduped_version, "silver/dup_clusters": clusters_version,
                        sig_name: sig_version, "silver/rejections": rejections_version}
        step("rejections, silver/deduped and silver/dup_clusters written")
    finally:
        exact.unpersist()
        usable.unpersist()
        if ckpt_dir.exists():
            ckpt_dir.rmtree()
    for reason in (EXACT, NEAR):
        by_reason.setdefault(reason, 0)
    return StageResult(rows_in=rows_in, rows_kept=rows_in - rows_rejected, rejected_by_reason=by_reason,
                       bytes_in=bytes_in, bytes_kept=bytes_in - rejected_bytes,
                       versions_written=versions, metrics=metrics)


# ---- attribution -----------------------------------------------------------------------------

def attribute(ctx: StageContext, text: str, threshold: float | None = None, limit: int = 20):
    """Files whose stored signature shares an LSH bucket with `text` and whose estimated
    Jaccard is ≥ threshold, among the files of gold/files (or silver/deduped before the gold
    stage exists). Returns (table searched, threshold, [{repo_name, path, file_id,
    estimated_jaccard}] best first)."""
    from pyspark.sql import functions as F

    cfg = ctx.config.dedup
    params: mh.MinHashParams = cfg.params
    bands, rows = cfg.layout()
    t = float(threshold if threshold is not None else cfg.threshold)
    sig, has = mh.signatures([text], params)
    if not has[0]:
        raise UserError(f"the snippet has fewer than {params.ngram} tokens: too short to compare")
    sig_name = "silver/minhash_signatures"
    target = next((n for n in ("gold/files", "silver/deduped") if ctx.lake.exists(n)), None)
    if target is None or not ctx.lake.exists(sig_name):
        raise UserError(f"no deduplicated data with signatures in {ctx.lake.root}: run the dedup stage first")
    stored = (ctx.lake.read(sig_name)
              .where((F.col("minhash_params") == params.key()) & (F.size("signature") > 0))
              .join(ctx.lake.read(target).select("file_id"), "file_id", "left_semi"))
    values = [int(v) for v in sig[0]]
    query = ctx.spark.createDataFrame([("<snippet>", values)], "file_id string, signature array<bigint>")
    query_bands = band_keys(query, bands, rows, node_col="file_id").select("band", "h")
    hits = (band_keys(stored.select("file_id", "signature"), bands, rows, node_col="file_id")
            .join(query_bands, ["band", "h"], "left_semi").select("file_id").distinct())
    estimate = estimated_jaccard_col(F.col("signature"), F.array(*[F.lit(v).cast("bigint") for v in values]),
                                     params.num_perm)
    rows = (stored.join(hits, "file_id").select("file_id", "repo_name", "path", estimate.alias("estimated_jaccard"))
            .where(F.col("estimated_jaccard") >= t)
            .orderBy(F.col("estimated_jaccard").desc(), "repo_name", "path").limit(limit).collect())
    return target, t, [r.asDict() for r in rows]


STAGE = Stage(
    name="dedup", inputs=(INPUT,), outputs=("silver/deduped", "silver/dup_clusters", "silver/minhash_signatures"),
    run=run, help="exact + MinHash near deduplication: silver/filtered → silver/deduped, silver/dup_clusters",
    add_arguments=add_arguments, config_overrides=config_overrides,
    checked=("silver/deduped", "silver/dup_clusters"))
