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


def pair_metrics(predicted: dict, true_pairs: Iterable[tuple], docs: Iterable) -> dict:
    """Pair precision/recall/F1 of a clustering (`predicted`: doc → cluster id; documents not
    in it are singletons) against exact-Jaccard pairs, over the documents `docs`.

    Returns {"pairs": {...}, "closure": {...}} as defined in the module docstring.
    """
    docs = list(docs)
    doc_set = set(docs)
    cluster = {d: predicted.get(d, ("singleton", d)) for d in docs}
    true_pairs = sorted({(min(a, b), max(a, b)) for a, b in true_pairs
                         if a in doc_set and b in doc_set and a != b})
    n_pred = _pairs_within(Counter(cluster.values()).values())
    hit = sum(1 for a, b in true_pairs if cluster[a] == cluster[b])
    pairs = _prf(hit, n_pred, len(true_pairs))

    truth_label = components(true_pairs, docs)
    n_true_closure = _pairs_within(Counter(truth_label.values()).values())
    cells = Counter((cluster[d], truth_label[d]) for d in docs)
    hit_closure = _pairs_within(cells.values())
    return {"pairs": pairs, "closure": _prf(hit_closure, n_pred, n_true_closure)}
