"""Clusters on one machine: union-find, and pair precision/recall of a clustering against
exact-Jaccard ground truth (used by `codemill eval-dedup`, the benchmark and the tests).

Definitions (`pair_metrics`), over a fixed set of documents D:
* predicted pairs P = unordered pairs of documents that share a predicted cluster;
* "pairs" truth T = unordered pairs whose exact Jaccard ≥ t;
* "closure" truth T* = unordered pairs in the same connected component of the graph whose
  edges are T (what a perfect transitive dedup would put in one cluster; T ⊆ T*).
precision = |P ∩ T| / |P|, recall = |P ∩ T| / |T|, F1 their harmonic mean (and the same with T*).
The counts are computed without listing P, so a cluster of 10^5 files costs O(10^5).
"""
from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Hashable, Iterable


class UnionFind:
    """Disjoint sets with path halving and union by size; roots are deterministic for a
    given sequence of unions."""

    def __init__(self) -> None:
        self.parent: dict = {}
        self.size: dict = {}

    def add(self, x: Hashable) -> None:
        if x not in self.parent:
            self.parent[x] = x
            self.size[x] = 1

    def find(self, x: Hashable):
        self.add(x)
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def groups(self) -> dict:
        """root → sorted members."""
        out: dict = {}
        for x in self.parent:
            out.setdefault(self.find(x), []).append(x)
        return {k: sorted(v) for k, v in out.items()}


def components(edges: Iterable[tuple], nodes: Iterable = ()) -> dict:
    """node → smallest node of its connected component (every node of `edges` and `nodes`)."""
    uf = UnionFind()
    for n in nodes:
        uf.add(n)
    for a, b in edges:
        uf.union(a, b)
    label = {}
    for members in uf.groups().values():
        low = members[0]
        for m in members:
            label[m] = low
    return label


def _pairs_within(sizes: Iterable[int]) -> int:
    return sum(k * (k - 1) // 2 for k in sizes)


def _prf(hit: int, predicted: int, truth: int) -> dict:
    precision = hit / predicted if predicted else 1.0
    recall = hit / truth if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "predicted_pairs": predicted, "true_pairs": truth, "correct_pairs": hit}


def _clusters_and_truth(predicted: dict, true_pairs: Iterable[tuple], docs: Iterable) -> tuple:
    """(docs, doc → cluster with singletons filled in, true pairs as sorted (low, high) within docs)."""
    docs = list(docs)
    doc_set = set(docs)
    cluster = {d: predicted.get(d, ("singleton", d)) for d in docs}
    true_pairs = sorted({(min(a, b), max(a, b)) for a, b in true_pairs
                         if a in doc_set and b in doc_set and a != b})
    return docs, cluster, true_pairs


def _pair_scores(cluster: dict, true_pairs: list) -> dict:
    """The "pairs" figures of a complete doc → cluster map against normalized true pairs."""
    n_pred = _pairs_within(Counter(cluster.values()).values())
    hit = sum(1 for a, b in true_pairs if cluster[a] == cluster[b])
    return _prf(hit, n_pred, len(true_pairs))


def pair_metrics(predicted: dict, true_pairs: Iterable[tuple], docs: Iterable) -> dict:
    """Pair precision/recall/F1 of a clustering (`predicted`: doc → cluster id; documents not
    in it are singletons) against exact-Jaccard pairs, over the documents `docs`.

    Returns {"pairs": {...}, "closure": {...}} as defined in the module docstring.
    """
    docs, cluster, true_pairs = _clusters_and_truth(predicted, true_pairs, docs)
    pairs = _pair_scores(cluster, true_pairs)

    truth_label = components(true_pairs, docs)
    n_true_closure = _pairs_within(Counter(truth_label.values()).values())
    cells = Counter((cluster[d], truth_label[d]) for d in docs)
    hit_closure = _pairs_within(cells.values())
    return {"pairs": pairs, "closure": _prf(hit_closure, pairs["predicted_pairs"], n_true_closure)}


# ---- how high can pair F1 go on a given ground truth? ------------------------------------------

def _adjacency(edges: Iterable[tuple]) -> dict:
    adj: dict = {}
    for a, b in edges:
        if a != b:
            adj.setdefault(a, set()).add(b)
            adj.setdefault(b, set()).add(a)
    return adj


def pivot_clusters(edges: Iterable[tuple], seed: int = 0) -> dict:
    """Pivot clustering (KwikCluster) of a graph: visit the nodes in a seeded random order; an
    unassigned node opens a cluster and takes its unassigned neighbours. node → pivot, for
    every node with an edge."""
    return _pivot(_adjacency(edges), seed)


def _pivot(adj: dict, seed: int) -> dict:
    import random

    order = sorted(adj)
    random.Random(seed).shuffle(order)
    label: dict = {}
    for v in order:
        if v in label:
            continue
        label[v] = v
        for u in adj[v]:
            label.setdefault(u, v)
    return label


def refine_for_pair_f1(label: dict, edges: Iterable[tuple], max_rounds: int = 50) -> dict:
    """Local search for a higher pair F1 against `edges` (the true pairs).

    F1 = 2·TP / (|P| + |T|). For a fixed λ, F1 > λ exactly when 2·TP − λ·|P| > λ·|T|, so with
    λ = the current F1, any move that raises 2·TP − λ·|P| raises F1 (Dinkelbach's method for
    ratios). A move takes one node to the cluster of a neighbour or to a cluster of its own;
    rounds sweep the nodes in sorted order and stop when no move gains.
    """
    return _refine(label, _adjacency(edges), max_rounds)


def _refine(label: dict, adj: dict, max_rounds: int) -> dict:
    label = dict(label)
    fresh = itertools.count()        # ids of new one-node clusters, never reused
    for v in adj:
        label.setdefault(v, ("alone", next(fresh)))
    size = Counter(label[v] for v in adj)
    true = sum(len(n) for n in adj.values()) // 2
    nodes = sorted(adj, key=repr)
    tp = sum(1 for v in adj for u in adj[v] if label[u] == label[v]) // 2
    pred = _pairs_within(size.values())
    for _ in range(max_rounds):
        lam = 2 * tp / (pred + true) if pred + true else 0.0
        moved = 0
        for v in nodes:
            own = label[v]
            links = Counter(label[u] for u in adj[v])
            # gain of leaving `own` for a cluster of its own: −2·links_own + λ·(|own| − 1)
            stay = 2 * links.get(own, 0) - lam * (size[own] - 1)
            best, best_gain = own, 0.0
            for c in sorted(links, key=repr):
                gain = 2 * links[c] - lam * size[c] - stay
                if c != own and gain > best_gain + 1e-9:
                    best, best_gain = c, gain
            if size[own] > 1 and -stay > best_gain + 1e-9:
                best = ("alone", next(fresh))
            if best == own:
                continue
            tp += links.get(best, 0) - links.get(own, 0)
            pred += size[best] - (size[own] - 1)
            size[own] -= 1
            size[best] += 1
            label[v] = best
            moved += 1
        if not moved:
            break
    return label


def pair_f1_ceilings(true_pairs: Iterable[tuple], docs: Iterable, seeds: Iterable[int] = (0, 1, 2)) -> dict:
    """What clusterings that know every true pair score (pair_metrics "pairs"), to read a
    dedup's figure against:
    * "truth_components": the connected components of the true pairs themselves (recall 1;
      what connected components over perfect candidate edges give);
    * "oracle": the best of pivot clustering + refine_for_pair_f1 over `seeds` — not a proven
      maximum (the best partition is NP-hard to find), a level any clustering must beat to
      claim more.
    """
    docs, _, true_pairs = _clusters_and_truth({}, true_pairs, docs)
    truth = _pair_scores(components(true_pairs, docs), true_pairs)
    adj = _adjacency(true_pairs)          # built once for every seed
    best = None
    for seed in seeds:
        label = _refine(_pivot(adj, seed), adj, max_rounds=50)
        scores = _pair_scores({d: label.get(d, ("singleton", d)) for d in docs}, true_pairs)
        if best is None or scores["f1"] > best["f1"]:
            best = {**scores, "seed": seed}
    return {"truth_components": truth, "oracle": best}
