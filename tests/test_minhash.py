"""udfs/minhash.py and udfs/components.py without Spark."""
from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from udfs import components as cc
from udfs import minhash as mh

SMALL = mh.MinHashParams(num_perm=64)


def _code(seed: int, n_lines: int = 40) -> str:
    rng = random.Random(seed)
    names = ["alpha", "beta", "gamma", "delta", "x", "y", "idx", "value", "result", "self", "data"]
    lines = []
    for i in range(n_lines):
        a, b = rng.choice(names), rng.choice(names)
        lines.append(f"    {a}_{i % 7} = {b}.get({rng.randint(0, 99)}) + len({a})  # é comment ünïcode")
    return "def f(data):\n" + "\n".join(lines) + "\n    return result\n"


TEXTS = [
    "def add(a, b):\n    return a + b  # sum",
    "x = 1",                        # 2 tokens: no shingle
    "",                             # empty
    "  ...  ;;; ",                  # no token at all
    "one two three four five",      # exactly one shingle
    "ünïcödé wörds ß split on non-ASCII létters too",
    _code(1), _code(2), _code(1) + "\n# tail\n",
    "a b c d e f g " * 30,          # repeated shingles
]


@pytest.mark.parametrize("use_torch", [True, False])
def test_signatures_equal_pure_python_reference(use_torch):
    sig, has = mh.signatures(TEXTS, SMALL, use_torch=use_torch)
    assert sig.shape == (len(TEXTS), SMALL.num_perm)
    for text, row, ok in zip(TEXTS, sig, has):
        ref = mh.signature_reference(text, SMALL)
        assert (ref is not None) == bool(ok), text
        if ref is not None:
            assert [int(v) for v in row] == ref, text


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 4096])
def test_signature_does_not_depend_on_batching_or_chunking(chunk):
    together, has = mh.signatures(TEXTS, SMALL, chunk=chunk)
    for i, text in enumerate(TEXTS):
        alone, alone_has = mh.signatures([text], SMALL)
        assert bool(alone_has[0]) == bool(has[i])
        if has[i]:
            assert np.array_equal(alone[0], together[i])


def test_default_parameters_match_reference_and_recipe():
    p = mh.MinHashParams()
    assert (p.num_perm, p.ngram, p.seed) == (256, 5, 42)
    sig, has = mh.signatures([_code(3)], p)
    assert has[0] and [int(v) for v in sig[0]] == mh.signature_reference(_code(3), p)
    assert sig.max() <= mh.MAX_HASH_32


def test_permutations_are_seeded_and_odd():
    a, b = mh.permutations(256, 42)
    a2, b2 = mh.permutations(256, 42)
    assert np.array_equal(a, a2) and np.array_equal(b, b2)
    assert np.all(a & np.uint64(1) == 1) and a.dtype == b.dtype == np.uint64
    assert a.max() > np.uint64(1 << 63) and b.max() > np.uint64(1 << 63)   # the full 64-bit range
    assert not np.array_equal(a, mh.permutations(256, 43)[0])


def test_multiply_add_shift_equals_integer_arithmetic_on_edge_values():
    # The uint64 passes must equal ((a*h + b) mod 2^64) >> 32, also where a*h + b wraps.
    top = (1 << 64) - 1
    a = np.array([1, 3, top, (1 << 63) + 1, 0x9E3779B97F4A7C15], dtype=np.uint64)
    b = np.array([0, top, 5, 1 << 63, 7], dtype=np.uint64)
    h = np.array([0, 1, 2, (1 << 32) - 1, 123456789, 1 << 31], dtype=np.uint64)
    buf = np.empty((len(a), len(h)), np.uint64)
    mh._permute_into(h, a, b, buf)
    for i, j in itertools.product(range(len(a)), range(len(h))):
        want = (int(a[i]) * int(h[j]) + int(b[i])) % (1 << 64)
        assert int(buf[i, j]) == want
    # one document of these shingles: each permutation's minimum, then its high 32 bits —
    # with numpy's passes and with torch's int64 addcmul (signed, two's complement wrap)
    want = [min(((int(ai) * int(x) + int(bi)) % (1 << 64)) >> 32 for x in h) for ai, bi in zip(a, b)]
    for use_torch, chunk in itertools.product((True, False), (1, 4, 1024)):
        sig = mh.minhash_shingles(h, np.array([len(h)]), a, b, chunk=chunk, use_torch=use_torch)
        assert [int(v) for v in sig[0]] == want, (use_torch, chunk)


def test_batch_tokens_equal_the_regex_definition_on_bytes():
    """The byte-level tokenizer gives the tokens of TOKEN_SPLIT on the decoded text: non-ASCII
    letters split, nulls are empty, tokens never run across documents, any Arrow layout."""
    import pyarrow as pa
    texts = TEXTS + [None, "日本語 kw_2 3", "tail_of_one", "head_of_next", "a\u00e9b", "Zz_09 @[`{ /:"]
    th = {}

    def expected(text):
        toks = mh.tokenize(text or "")
        for t in toks:
            th.setdefault(t, int(mh.token_hashes(np.array([t], dtype=object))[0]))
        return [th[t] for t in toks]
    want = [expected(t) for t in texts]
    for arr in (pa.array(texts, pa.large_string()), pa.array(texts, pa.string()),
                pa.array(["skip me"] + texts, pa.string()).slice(1), pa.chunked_array([texts[:5], texts[5:]])):
        hashes, counts = mh._batch_tokens(arr, None)
        assert counts.tolist() == [len(w) for w in want]
        assert [int(x) for x in hashes] == [x for w in want for x in w]
    hashes, counts = mh._batch_tokens(pa.array(texts, pa.string()), 2)
    assert counts.tolist() == [min(len(w), 2) for w in want]
    assert [int(x) for x in hashes] == [x for w in want for x in w[:2]]
    assert mh.word_bytes(np.arange(256, dtype=np.uint8)).tolist() == [
        mh.TOKEN_SPLIT.fullmatch(chr(c)) is None if c < 128 else False for c in range(256)]


def test_band_hashes_bucket_equal_bands_together():
    rng = np.random.default_rng(3)
    sig = rng.integers(0, 1 << 32, size=(4, 12), dtype=np.uint64)
    sig[1, :4] = sig[0, :4]            # docs 0 and 1 share band 0 (rows 0–3) only
    sig[2] = sig[0]                    # doc 2 equals doc 0
    h = mh.band_hashes(sig.astype(np.int64), bands=3, rows=4)
    assert h.shape == (4, 3) and h.dtype == np.int64
    assert h[0, 0] == h[1, 0] and h[0, 1] != h[1, 1] and h[0, 2] != h[1, 2]
    assert np.array_equal(h[0], h[2]) and len(set(h[3]) & set(h[0])) == 0
    assert np.array_equal(mh.band_hashes(sig, 2, 4), h[:, :2])   # values past bands × rows unused
    with pytest.raises(ValueError):
        mh.band_hashes(sig, bands=4, rows=4)


def test_tokens_are_capped():
    p = mh.MinHashParams(num_perm=32, max_tokens=50)
    long_text = " ".join(f"t{i}" for i in range(500))
    capped_text = " ".join(f"t{i}" for i in range(50))
    sig, _ = mh.signatures([long_text, capped_text], p)
    assert np.array_equal(sig[0], sig[1])
    assert mh.signature_reference(long_text, p) == [int(v) for v in sig[0]]


def test_short_documents_have_no_signature():
    _, has = mh.signatures(["a b c d", "a b c d e", "", None], SMALL)
    assert has.tolist() == [False, True, False, False]


def test_estimated_jaccard_tracks_exact_jaccard():
    base = _code(7, 200)
    lines = base.splitlines()
    edited = "\n".join(lines[:150] + [l.replace("get", "fetch") for l in lines[150:]])
    exact = mh.jaccard(mh.shingle_set(base), mh.shingle_set(edited))
    sig, _ = mh.signatures([base, edited], mh.MinHashParams())
    assert 0.4 < exact < 0.95
    assert abs(mh.estimated_jaccard(sig[0], sig[1]) - exact) < 0.1
    assert mh.estimated_jaccard(sig[0], sig[0]) == 1.0


@pytest.mark.parametrize("threshold,num_perm,expected", [
    (0.7, 256, (25, 10)), (0.85, 256, (13, 19)), (0.6, 256, (32, 8)), (0.7, 128, (14, 9))])
def test_band_row_selection_matches_recipe(threshold, num_perm, expected):
    assert mh.optimal_bands(threshold, num_perm) == expected


def test_band_selection_error_is_the_minimum():
    t, n = 0.7, 256
    best = mh.optimal_bands(t, n)

    def err(b, r):
        return 0.5 * mh.false_positive_area(t, b, r) + 0.5 * mh.false_negative_area(t, b, r)
    for b, r in [(32, 8), (16, 16), (20, 12), (26, 9), (24, 10), (25, 9)]:
        assert err(*best) <= err(b, r)
    assert mh.candidate_probability(0.9, 25, 10) > 0.99
    assert mh.candidate_probability(0.3, 25, 10) < 0.01
    with pytest.raises(ValueError):
        mh.optimal_bands(1.0, 256)


def test_exact_shingle_ids_give_exact_jaccard():
    texts = [_code(1), _code(1) + "\nextra = 1\n", _code(2), "a b c", ""]
    ids = mh.exact_shingle_ids(texts)
    for i, j in itertools.combinations(range(len(texts)), 2):
        want = mh.jaccard(mh.shingle_set(texts[i]), mh.shingle_set(texts[j]))
        got = mh.sorted_jaccard(ids[i], ids[j]) if len(ids[i]) or len(ids[j]) else 0.0
        assert got == pytest.approx(want)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.9])
def test_prefix_filtering_finds_exactly_the_brute_force_pairs(threshold):
    rng = np.random.default_rng(5)
    base = [rng.choice(400, size=rng.integers(5, 60), replace=False) for _ in range(12)]
    sets = []
    for s in base:  # each base set plus a few mutated copies: many pairs near every threshold
        sets.append(np.unique(s))
        for k in (1, 3, 8, 20):
            m = s.copy()
            m[:min(k, len(m))] = rng.choice(np.arange(400, 800), size=min(k, len(m)), replace=False)
            sets.append(np.unique(m))
    sets.append(np.zeros(0, dtype=np.int64))
    got = mh.similar_pairs_exact(sets, threshold)
    want = {}
    for i, j in itertools.combinations(range(len(sets)), 2):
        if len(sets[i]) and len(sets[j]):
            sim = mh.jaccard(set(sets[i].tolist()), set(sets[j].tolist()))
            if sim >= threshold:
                want[(i, j)] = sim
    assert set(got) == set(want)
    assert len(want) > 5
    for k, v in want.items():
        assert got[k] == pytest.approx(v)


def test_batch_shingle_sets_and_sorted_jaccard():
    a, b = _code(4), _code(4) + "\nmore = stuff + here\n"
    sa, sb = mh.batch_shingle_sets([a, b])
    assert mh.sorted_jaccard(sa, sb) == pytest.approx(mh.jaccard(mh.shingle_set(a), mh.shingle_set(b)))


def test_keep_rule_is_deterministic_and_ordered():
    members = [
        {"file_id": "c", "license_type": "permissive", "stars": 5, "license": "MIT"},
        {"file_id": "a", "license_type": "no_license", "stars": 900, "license": None},
        {"file_id": "b", "license_type": "permissive", "stars": 5, "license": "MIT"},
        {"file_id": "d", "license_type": "permissive", "stars": None, "license": "MIT"},
        {"file_id": "e", "license_type": "non_permissive", "stars": 10_000, "license": "GPL-3.0"},
    ]
    for perm in itertools.permutations(members):
        assert mh.choose_survivor(list(perm), has_license_type=True)["file_id"] == "b"
    # without license_type: a licence beats none; then stars
    assert mh.choose_survivor(members, has_license_type=False)["file_id"] == "e"
    assert mh.choose_survivor(members[1:2] + members[3:4], has_license_type=False)["file_id"] == "d"
    # unknown stars rank below zero stars
    assert mh.choose_survivor([{"file_id": "a", "stars": None}, {"file_id": "z", "stars": 0}], False)["file_id"] == "z"


def test_union_find_components():
    label = cc.components([(3, 4), (4, 5), (1, 2), (9, 9)], nodes=[7])
    assert label == {1: 1, 2: 1, 3: 3, 4: 3, 5: 3, 7: 7, 9: 9}


def test_pair_metrics_definitions():
    docs = list(range(6))
    true = [(0, 1), (1, 2)]              # chain: 0~1, 1~2, but 0 !~ 2
    predicted = {0: "A", 1: "A", 2: "A", 4: "B", 5: "B"}
    m = cc.pair_metrics(predicted, true, docs)
    # predicted pairs: (0,1),(0,2),(1,2),(4,5) → 4; true pairs hit: 2 of 2
    assert m["pairs"]["precision"] == pytest.approx(2 / 4)
    assert m["pairs"]["recall"] == 1.0
    # closure truth: {0,1,2} → 3 pairs, all predicted; (4,5) is wrong
    assert m["closure"]["precision"] == pytest.approx(3 / 4)
    assert m["closure"]["recall"] == 1.0
    perfect = cc.pair_metrics({0: 0, 1: 0, 2: 0}, true, docs)["closure"]
    assert perfect["f1"] == 1.0
    assert cc.pair_metrics({}, true, docs)["pairs"]["recall"] == 0.0


def test_pair_f1_ceilings_on_a_chain_and_on_cliques():
    # A path 0-1-2-3-4-5: its connected component predicts 15 pairs for 5 true ones (F1 0.5);
    # pairs {0,1},{2,3},{4,5} hit 3 of 5 with precision 1 (F1 0.75), the best any partition does.
    chain = [(i, i + 1) for i in range(5)]
    ceilings = cc.pair_f1_ceilings(chain, range(6))
    assert ceilings["truth_components"]["f1"] == pytest.approx(2 * 5 / (15 + 5))
    assert ceilings["oracle"]["f1"] == pytest.approx(0.75)
    # Disjoint cliques (plus an isolated document): both reach F1 1.
    cliques = [(a, b) for group in ([0, 1, 2, 3], [4, 5, 6]) for a in group for b in group if a < b]
    ceilings = cc.pair_f1_ceilings(cliques, range(8))
    assert ceilings["truth_components"]["f1"] == 1.0 and ceilings["oracle"]["f1"] == 1.0


def test_refine_for_pair_f1_never_lowers_f1_and_is_deterministic():
    # Two 4-cliques joined by one bridge edge, started with node 4 on the wrong side.
    edges = [(a, b) for group in ([0, 1, 2, 3], [4, 5, 6, 7]) for a in group for b in group if a < b] + [(3, 4)]
    docs = range(8)
    start = {d: "A" if d <= 4 else "B" for d in docs}
    before = cc.pair_metrics(start, edges, docs)["pairs"]["f1"]
    refined = cc.refine_for_pair_f1(start, edges)
    after = cc.pair_metrics(refined, edges, docs)["pairs"]
    assert after["f1"] > before
    assert after["precision"] == 1.0 and after["correct_pairs"] == 12   # the two cliques, split at the bridge
    assert refined == cc.refine_for_pair_f1(start, edges)
    assert cc.pivot_clusters(edges, seed=3) == cc.pivot_clusters(edges, seed=3)
    # On random graphs, refining a pivot clustering never scores lower than the pivot clustering.
    rng = random.Random(7)
    for _ in range(20):
        nodes = range(30)
        edges = [(a, b) for a in nodes for b in nodes if a < b and rng.random() < 0.12]
        pivot = cc.pivot_clusters(edges, seed=1)
        f1 = cc.pair_metrics(pivot, edges, nodes)["pairs"]["f1"]
        assert cc.pair_metrics(cc.refine_for_pair_f1(pivot, edges), edges, nodes)["pairs"]["f1"] >= f1 - 1e-12
