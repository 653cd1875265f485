"""How good is near dedup? Exact-Jaccard ground truth vs the clusters the dedup stage made.

Domain: the files near dedup saw — the dedup input minus the exact-duplicate copies it
removed — that have at least one word n-gram (shorter files are left out of near dedup and
of the ground truth alike). Ground truth: every pair of those files whose exact Jaccard of
n-gram sets (token sequences, no hashing) is ≥ t, found by prefix filtering
(udfs.minhash.similar_pairs_exact: provably no pair is missed). Predicted: pairs of files in
the same `method = near` cluster of silver/dup_clusters. Metrics as defined in
udfs/components.py: "pairs" (vs pairs with J ≥ t, the primary figure) and "closure" (vs the
transitive closure of those pairs, which is what any cluster-based dedup can reach).
For scale, the report adds what two clusterings that know every true pair score: the true
pairs' own connected components, and a pivot clustering refined for pair F1 (where the true
pairs chain, no clustering reaches high pair precision and recall at once).

Runs on the driver: meant for corpora up to ~10^5 files (a sample of a larger lake).
"""
from __future__ import annotations

import time

from udfs import components as ucc
from udfs import minhash as mh


def ground_truth(contents: list[str], threshold: float, ngram: int = 5, max_tokens: int | None = None) -> dict:
    """The documents with at least one n-gram and every pair of them with exact Jaccard ≥ threshold."""
    t0 = time.perf_counter()
    sets = mh.exact_shingle_ids(contents, ngram, max_tokens)
    return {"files": len(contents), "docs": [i for i, s in enumerate(sets) if len(s)],
            "true_pairs": list(mh.similar_pairs_exact(sets, threshold)), "threshold": threshold,
            "seconds": round(time.perf_counter() - t0, 2)}


def evaluate_clusters(contents: list[str], predicted: dict[int, object], threshold: float,
                      ngram: int = 5, max_tokens: int | None = None, truth: dict | None = None,
                      ceilings: bool = True) -> dict:
    """Score a clustering of documents 0..n−1 (`predicted`: index → cluster label; absent =
    singleton) against exact Jaccard ≥ threshold (`truth`: ground_truth's result, computed
    here when not given). Also returns the ground-truth sizes and, with `ceilings`, what
    clusterings that know every true pair score (udfs.components.pair_f1_ceilings)."""
    if truth is None:
        truth = ground_truth(contents, threshold, ngram, max_tokens)
    elif truth["files"] != len(contents) or truth["threshold"] != threshold:
        raise ValueError("the ground truth was computed for other documents or another threshold")
    docs, true_pairs = truth["docs"], truth["true_pairs"]
    scores = ucc.pair_metrics({d: predicted[d] for d in docs if d in predicted}, true_pairs, docs)
    result = {"files": len(contents), "files_with_shingles": len(docs), "threshold": threshold,
              "true_pairs": len(true_pairs), "ground_truth_seconds": truth["seconds"], **scores}
    if ceilings:
        result["ceilings"] = ucc.pair_f1_ceilings(true_pairs, docs)
    return result


def evaluate_lake(ctx, threshold: float | None = None, max_files: int = 200_000, ceilings: bool = True) -> dict:
    """eval-dedup on a lake: the latest dedup output against the dedup stage's input."""
    from pyspark.sql import functions as F

    from jobs.core.errors import UserError
    from jobs.stages.dedup import INPUT

    cfg = ctx.config.dedup
    params = cfg.params
    t = float(threshold if threshold is not None else cfg.threshold)
    if not ctx.lake.exists("silver/dup_clusters"):
        raise UserError(f"no silver/dup_clusters in {ctx.lake.root}: run the dedup stage first")
    input_name = INPUT
    clusters = ctx.lake.read("silver/dup_clusters")
    exact_removed = clusters.where("method = 'exact' AND NOT kept").select("file_id")
    domain = ctx.read_input(INPUT, ["file_id", "content"]).join(exact_removed, "file_id", "left_anti")
    n = domain.count()
    if n > max_files:
        raise UserError(f"{n} files reach near dedup; eval-dedup works on the driver up to --max-files "
                        f"{max_files} (run it on a sample lake)")
    rows = sorted(domain.collect(), key=lambda r: r["file_id"])
    index = {r["file_id"]: i for i, r in enumerate(rows)}
    near = clusters.where(F.col("method") == "near").select("file_id", "cluster_id").collect()
    predicted = {index[r["file_id"]]: r["cluster_id"] for r in near if r["file_id"] in index}
    result = evaluate_clusters([r["content"] for r in rows], predicted, t, params.ngram, params.max_tokens,
                               ceilings=ceilings)
    result.update(input_table=input_name, dedup_threshold=cfg.threshold,
                  predicted_clusters=len(set(predicted.values())), files_in_predicted_clusters=len(predicted))
    return result


def format_report(result: dict) -> str:
    lines = [f"near-dedup evaluation against exact Jaccard ≥ {result['threshold']} "
             f"(input {result.get('input_table', '?')})",
             f"  files after exact dedup: {result['files']}  with ≥1 n-gram: {result['files_with_shingles']}",
             f"  true pairs (J ≥ t): {result['true_pairs']}  "
             f"(found by prefix filtering in {result['ground_truth_seconds']}s)"]
    if "predicted_clusters" in result:
        lines.append(f"  predicted near clusters: {result['predicted_clusters']} holding "
                     f"{result['files_in_predicted_clusters']} files")
    for key, label in (("pairs", "pairs     (same cluster vs J ≥ t)"),
                       ("closure", "closure   (same cluster vs transitive closure of J ≥ t)")):
        m = result[key]
        lines.append(f"  {label}: precision {m['precision']:.4f}  recall {m['recall']:.4f}  F1 {m['f1']:.4f}  "
                     f"[{m['correct_pairs']} correct of {m['predicted_pairs']} predicted, {m['true_pairs']} true]")
    if "ceilings" in result:
        lines.append(ceilings_line(result["ceilings"]))
    return "\n".join(lines)


def ceilings_line(ceilings: dict) -> str:
    truth, oracle = ceilings["truth_components"], ceilings["oracle"]
    return (f"  for scale, pair F1 of clusterings that know every true pair: the true pairs' own connected "
            f"components {truth['f1']:.4f} (precision {truth['precision']:.4f}); pivot clustering refined for "
            f"pair F1 {oracle['f1']:.4f} (precision {oracle['precision']:.4f}, recall {oracle['recall']:.4f})")
