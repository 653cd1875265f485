"""Dedup in an incremental run (jobs/core/incremental.py): this run's files against the
published survivors.

The survivor rule of an incremental run (docs/dedup.md, "Incremental runs"): a file that
earlier runs kept stays kept. This run's files are deduplicated among themselves and
against the published survivors of silver/deduped:

* exact — a new file with the content of a published survivor is an exact duplicate of
  it; new files sharing a content among themselves keep one by the keep rule;
* near — LSH buckets that hold at least one new file give the candidate edges (an edge
  between two published survivors is dropped: they were not merged when published and
  are not merged now), verified like a full run's; in each connected component the
  published survivor that ranks first by the keep rule is the survivor (cluster_id) of
  every new file in it, and a component of new files only keeps one by the keep rule.

So clusters are never merged and a survivor never demoted: where a full run over A∪B
would have picked a new file over an old survivor (it ranks higher), the incremental run
keeps the old one. A changed or deleted file leaves every table; a cluster whose survivor
changed or was deleted is dissolved (its rows leave silver/dup_clusters) and the files it
had dropped stay dropped until the next full run.
"""
from __future__ import annotations


from jobs.core import incremental
from jobs.core.stage import StageContext, StageResult, write_rejections
from jobs.stages import dedup as full
from udfs import minhash as mh

SIGNATURES = "silver/minhash_signatures"


def run(ctx: StageContext) -> StageResult:
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    cfg = ctx.config.dedup
    params: mh.MinHashParams = cfg.params
    bands, rows = cfg.layout()
    step = full.step_logger(ctx, "dedup (incremental)")

    for name in ("silver/deduped", "silver/dup_clusters", SIGNATURES):
        incremental.start_from_published(ctx, name)
    new = ctx.read_input(full.INPUT)                      # this run's files
    new = new.withColumn("_rank", full.license_rank_col(new.columns))
    removed = incremental.replaced_ids(ctx).persist(StorageLevel.MEMORY_AND_DISK)
    survivors_table = ctx.lake.read_or_empty("silver/deduped")
    old = survivors_table.join(removed, "file_id", "left_anti")
    old = old.withColumn("_rank", full.license_rank_col(old.columns))
    clusters_before = ctx.lake.read_or_empty("silver/dup_clusters")
    lang = ["language"] if "language" in new.columns else []
    id_cols = ["file_id", "repo_name", "path", "content_sha256", "_rank", "stars", "size_bytes", *lang]

    # ---- exact: against the published survivors, then among this run's files ----
    old_by_content = old.groupBy("content_sha256").agg(F.min("file_id").alias("_old"))
    ids = new.select(*id_cols).join(old_by_content, "content_sha256", "left").persist(StorageLevel.MEMORY_AND_DISK)
    totals = ids.agg(F.count(F.lit(1)).alias("n"), F.sum("size_bytes").alias("b")).collect()[0]
    rows_in, bytes_in = int(totals["n"]), int(totals["b"] or 0)
    copies_of_old = ids.where(F.col("_old").isNotNull())
    exact = full.pick_survivors(ids.where(F.col("_old").isNull()).drop("_old"), "content_sha256")
    exact_rejected = (exact.where("_n > 1").select("file_id", "repo_name", "path", "size_bytes", *lang,
                                                   F.col("_survivor").alias("detail"))
                      .unionByName(copies_of_old.select("file_id", "repo_name", "path", "size_bytes", *lang,
                                                        F.col("_old").alias("detail")))
                      .withColumn("reason", F.lit(full.EXACT)))
    matched_old = copies_of_old.select(F.col("_old").alias("file_id")).distinct().join(
        old.select("file_id", "repo_name", "path"), "file_id")
    exact_members = (exact.where("_size > 1").select("file_id", "repo_name", "path", "_survivor", "_n")
                     .unionByName(copies_of_old.select("file_id", "repo_name", "path",
                                                       F.col("_old").alias("_survivor"), F.lit(2).alias("_n")))
                     .unionByName(matched_old.select("file_id", "repo_name", "path",
                                                     F.col("file_id").alias("_survivor"), F.lit(1).alias("_n"))))
    new_survivors = exact.where("_n = 1").drop("_n", "_survivor", "_size").withColumn("_is_new", F.lit(True))
    candidates = new_survivors.unionByName(old.select(*id_cols).withColumn("_is_new", F.lit(False)))
    step(f"exact dedup of {rows_in} files against the published survivors")

    # ---- signatures: this run's survivors computed, the published ones read back ----
    key = params.key()
    wanted = candidates.select("file_id", "content_sha256")
    # (signatures an earlier attempt of this run stored are computed again: replace_slice drops them)
    stored = (ctx.lake.read(SIGNATURES).where((F.col("minhash_params") == key) & (F.col("run_id") != ctx.run_id))
              .select("file_id", "content_sha256")
              if ctx.lake.exists(SIGNATURES) else wanted.limit(0))
    todo = wanted.join(stored, ["file_id", "content_sha256"], "left_anti")
    contents = new.unionByName(old)
    todo_files = contents.join(todo, ["file_id", "content_sha256"], "left_semi")
    new_sigs = (full.compute_signatures(todo_files, params, cfg.minhash_chunk)
                .withColumn("minhash_params", F.lit(key)).withColumn("run_id", F.lit(ctx.run_id)))
    # a changed file's old signature goes; the new ones are appended
    sig_version = incremental.replace_slice(ctx, SIGNATURES, new_sigs)
    sigs = (ctx.lake.read(SIGNATURES).where(F.col("minhash_params") == key)
            .join(wanted, ["file_id", "content_sha256"], "left_semi"))
    computed = sigs.where(F.col("run_id") == ctx.run_id).count()
    usable = (sigs.where(F.size("signature") > 0).select("file_id", "signature")
              .join(candidates.select("file_id", "_is_new"), "file_id").persist(StorageLevel.MEMORY_AND_DISK))
    step(f"signatures ready ({computed} computed, the published survivors' reused)")

    checkpoint, ckpt_dir = full._checkpointer(ctx)
    try:
        nodes, fallback_ids, _n_usable = full.node_ids(ctx.spark, usable)
        nodes = checkpoint(nodes.select("file_id", "node", "signature", "_is_new"))
        flags = nodes.select("node", "_is_new")
        # ---- candidate edges: buckets with a new file; no edge between two published survivors ----
        keys = full.band_keys(nodes, bands, rows).join(flags, "node")
        with_new = keys.where("_is_new").select("band", "h").distinct()
        edges = full.candidate_edges(keys.join(with_new, ["band", "h"], "left_semi").select("node", "band", "h"))
        edges = checkpoint(
            edges.join(flags.select(F.col("node").alias("src"), F.col("_is_new").alias("_src_new")), "src")
                 .join(flags.select(F.col("node").alias("dst"), F.col("_is_new").alias("_dst_new")), "dst")
                 .where(F.col("_src_new") | F.col("_dst_new")).select("src", "dst"))
        n_candidates = edges.count()
        step(f"{n_candidates} candidate edges touching this run's files")
        metrics = {"input_table": full.INPUT, "threshold": cfg.threshold, "num_perm": params.num_perm,
                   "bands": bands, "rows": rows, "ngram_size": params.ngram, "candidate_edges": n_candidates,
                   "signatures_computed": computed, "verify": cfg.verify, "survivor_rule": "published survivors stay"}
        if fallback_ids:
            metrics["node_id_fallback"] = True
        if cfg.verify and n_candidates:
            edges = full.verify_edges(ctx, cfg, contents, nodes, edges, n_candidates, checkpoint, metrics)

        # ---- components: a published survivor, when there is one, keeps the component ----
        labels, rounds = full.connected_components(edges, cfg.max_cc_iterations, checkpoint, ctx.log)
        metrics["cc_rounds"] = rounds
        members = (labels.join(nodes.select("file_id", "node"), "node")
                   .join(candidates, "file_id").select(*candidates.columns, "component"))
        ordered = Window.partitionBy("component").orderBy(F.col("_is_new").asc(), *full.keep_order())
        whole = ordered.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
        near = checkpoint(members.withColumn("_n", F.row_number().over(ordered))
                          .withColumn("_survivor", F.first("file_id").over(whole)))
        near_rejected = (near.where("_n > 1 AND _is_new")
                         .select("file_id", "repo_name", "path", "size_bytes", *lang, F.col("_survivor").alias("detail"))
                         .withColumn("reason", F.lit(full.NEAR)))
        # published survivors other than a component's first stay survivors of their own clusters
        near_rows = near.where("_is_new OR _n = 1").select("file_id", "repo_name", "path", "_survivor", "_n")
        metrics["near_clusters_touched"] = near.where("_n = 1").count()
        metrics["joined_published_clusters"] = near.where("_n = 1 AND NOT _is_new").count()

        rejected = checkpoint(exact_rejected.unionByName(near_rejected))
        stats = rejected.groupBy("reason").agg(F.count(F.lit(1)).alias("n"), F.sum("size_bytes").alias("b")).collect()
        by_reason = {r["reason"]: int(r["n"]) for r in stats}
        rejected_bytes = sum(int(r["b"] or 0) for r in stats)

        # silver/dup_clusters: the rows of changed files go, and so does every row of a
        # cluster whose survivor changed (it dissolves); published survivors that gained a
        # member get a row unless they already have one
        kept_before = clusters_before.join(removed, "file_id", "left_anti")
        dissolved = clusters_before.join(removed.select(F.col("file_id").alias("cluster_id")), "cluster_id", "left_semi")
        remove_rows = checkpoint(removed.unionByName(dissolved.select("file_id")).distinct())
        clusters = checkpoint(full.cluster_rows(exact_members, near_rows)
                              .join(kept_before.join(dissolved.select("file_id"), "file_id", "left_anti")
                                    .select("file_id"), "file_id", "left_anti")
                              .withColumn("run_id", F.lit(ctx.run_id)))
        deduped = new.drop("_rank").join(rejected.select("file_id"), "file_id", "left_anti")
        versions = {"silver/rejections": write_rejections(ctx, "dedup", rejected),
                    "silver/dup_clusters": incremental.replace_slice(ctx, "silver/dup_clusters", clusters,
                                                                     remove=remove_rows),
                    "silver/deduped": incremental.replace_slice(ctx, "silver/deduped", deduped),
                    SIGNATURES: sig_version}
        step("silver/deduped, silver/dup_clusters and rejections written")
    finally:
        ids.unpersist()
        usable.unpersist()
        removed.unpersist()
        if ckpt_dir.exists():
            ckpt_dir.rmtree()
    for reason in (full.EXACT, full.NEAR):
        by_reason.setdefault(reason, 0)
    rows_rejected = sum(by_reason.values())
    return StageResult(rows_in=rows_in, rows_kept=rows_in - rows_rejected, rejected_by_reason=by_reason,
                       bytes_in=bytes_in, bytes_kept=bytes_in - rejected_bytes, versions_written=versions,
                       metrics=metrics)
