"""MinHash signatures, LSH band selection and exact Jaccard for near-deduplication.

numpy/pyarrow, plus torch's int64 multiply-add for the permutations when torch is importable
(no Spark): `jobs/dedup.py` calls `signatures()` once per Arrow batch.
The recipe is the SantaCoder/StarCoder one (docs/recipe.md §4.3):

* tokens: the content split on `[^A-Za-z_0-9]`, empty tokens dropped, case kept;
  at most `max_tokens` tokens per file (a guard against pathological inputs);
* shingles: word n-grams (n = 5) of consecutive tokens;
* each shingle is hashed to 32 bits; permutation i maps a shingle hash h to the high 32 bits
  of (a_i·h + b_i) mod 2^64 — Dietzfelbinger's multiply-add-shift scheme, a strongly
  universal family from 32-bit keys to 32-bit values ("Universal hashing and k-wise
  independent random variables via integer arithmetic without primes", STACS 1996);
  a_i (odd) and b_i are 64-bit values drawn from numpy's RandomState(seed);
* the signature is, per permutation, the minimum over the file's shingles.

Permutations differ from BigCode's `(a·h + b) mod (2^61 − 1)` masked to 32 bits (docs/recipe.md §4.3):
both are universal families of the same output width, so the MinHash estimator and the LSH
S-curve are the same, but multiply-add-shift needs three numpy passes per (permutation,
shingle) instead of eight for the division-free Mersenne reduction (uint64 multiply, add,
shift-and-narrow): the permutation step measured 2× faster (CPU seconds for 2,000 real
files: 2.76 → 1.36), signatures as a whole 2.9–3.9× datasketch's per core
(benchmarks/dedup_benchmark.py).

Hashing differs from BigCode in one documented way: instead of SHA-1 of the space-joined
shingle string (a Python call per shingle), each distinct token of a batch is hashed once
with pandas' vectorized SipHash (`pandas.util.hash_array`, fixed key, so stable across
processes and runs) and the n token hashes of a shingle are mixed with vectorized
multiply/xor-shift arithmetic into one 32-bit value. Equal shingles get equal hashes, so the
MinHash estimator is unchanged; only the concrete hash values differ from BigCode's.

Files with fewer than n tokens have no shingle. BigCode gives them a constant all-max
signature, so all of them fall into one LSH bucket and all but one are deleted. codemill
instead returns an EMPTY signature for them and the dedup stage leaves them out of near
dedup (they are still exact-deduplicated): a 3-token file is not a near-duplicate of an
unrelated 4-token file.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

TOKEN_SPLIT = re.compile(r"[^A-Za-z_0-9]")
MAX_HASH_32 = (1 << 32) - 1
_MASK = np.uint64(MAX_HASH_32)
_SHIFT_32 = np.uint64(32)
_U64 = (1 << 64) - 1
# Shingle mixing constants (odd 64-bit multipliers, splitmix64 / murmur3 finalizer family).
_MIX_INIT = 0x9E3779B97F4A7C15
_MIX_MUL = 0xBF58476D1CE4E5B9


@dataclass(frozen=True)
class MinHashParams:
    num_perm: int = 256
    ngram: int = 5
    seed: int = 42
    max_tokens: int = 100_000

    def key(self) -> str:
        """Identifies the hash family: signatures made with another key are not comparable."""
        return f"minhash-v2:perm{self.num_perm}:ngram{self.ngram}:seed{self.seed}:maxtok{self.max_tokens}"


def params_from_config(cfg: dict) -> MinHashParams:
    return MinHashParams(num_perm=int(cfg["num_perm"]), ngram=int(cfg["ngram_size"]),
                         seed=int(cfg["seed"]), max_tokens=int(cfg["max_tokens_per_file"]))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) coefficients of the num_perm multiply-add-shift hash functions: uint64,
    a odd (an even multiplier would waste its lowest bit)."""
    rng = np.random.RandomState(seed)
    a = rng.randint(0, 1 << 64, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.randint(0, 1 << 64, size=num_perm, dtype=np.uint64)
    return a, b


# ---- tokens and shingles -----------------------------------------------------------------

def sorted_unique(x: np.ndarray) -> np.ndarray:
    """np.unique for 1-D arrays via sort + mask (np.unique is ~50x slower on numpy 2.4 here)."""
    s = np.sort(x)
    if len(s) < 2:
        return s
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def tokenize(text: str, max_tokens: int | None = None) -> list[str]:
    """Tokens of one file (the per-document definition; the batch path must agree with it)."""
    tokens = [t for t in TOKEN_SPLIT.split(text) if t]
    return tokens[:max_tokens] if max_tokens is not None else tokens


def token_hashes(tokens: np.ndarray) -> np.ndarray:
    """64-bit hashes of an object array of token strings (vectorized SipHash, fixed key)."""
    from pandas.util import hash_array
    if len(tokens) == 0:
        return np.zeros(0, dtype=np.uint64)
    return hash_array(tokens, categorize=False)


def word_bytes(data: np.ndarray) -> np.ndarray:
    """Which bytes (uint8) are token characters [A-Za-z_0-9]. The class is ASCII-only, so in
    UTF-8 every byte of a non-ASCII character (all ≥ 0x80) is a separator: splitting the
    encoded bytes gives exactly the tokens of splitting the decoded text. (Three vectorized
    comparisons: 2.7× faster than a 256-entry lookup table.)"""
    letter = (data | np.uint8(0x20)) - np.uint8(ord("a")) < np.uint8(26)
    letter |= data - np.uint8(ord("0")) < np.uint8(10)
    letter |= data == np.uint8(ord("_"))
    return letter


def _batch_tokens(contents, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Tokens of a batch of documents as (hashes of all tokens in order, tokens per doc).

    Tokens are found on the batch's UTF-8 bytes with numpy (word_bytes, then where each run
    of word bytes begins and ends inside a document); the word bytes, packed together, are the
    data of an Arrow string array of all tokens, whose distinct values are hashed once each
    (dictionary encoding), so the Python-level work is per distinct token, not per token.
    (Arrow's regex split did the same job in 1.5× the CPU: 5.7 s against 3.8 s for 22,000
    real files.)
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = contents if isinstance(contents, (pa.Array, pa.ChunkedArray)) else pa.array(list(contents), pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n_docs = len(arr)
    arr = pc.fill_null(arr, "")
    if arr.type not in (pa.string(), pa.large_string()):
        arr = arr.cast(pa.large_string())
    offset_type = np.int32 if arr.type == pa.string() else np.int64
    _, offsets_buf, data_buf = arr.buffers()
    width = np.dtype(offset_type).itemsize
    bounds = np.frombuffer(offsets_buf, dtype=offset_type, count=n_docs + 1, offset=arr.offset * width).astype(np.int64)
    size = int(bounds[-1] - bounds[0])
    if size == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(n_docs, dtype=np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8, count=size, offset=int(bounds[0]))
    bounds = bounds - bounds[0]
    word = word_bytes(data)
    # A token starts at a word byte that follows a separator or begins a document, and ends
    # at one followed by a separator or ending a document.
    is_start = word.copy()
    is_start[1:] &= ~word[:-1]
    firsts = bounds[:-1][bounds[:-1] < bounds[1:]]
    is_start[firsts] = word[firsts]
    is_end = word.copy()
    is_end[:-1] &= ~word[1:]
    lasts = bounds[1:][bounds[:-1] < bounds[1:]] - 1
    is_end[lasts] = word[lasts]
    starts = np.flatnonzero(is_start)
    counts = np.diff(np.searchsorted(starts, bounds)).astype(np.int64)   # token starts per document
    if len(starts) == 0:
        return np.zeros(0, dtype=np.uint64), counts
    # The tokens' bytes packed end to end are the data of one Arrow string array.
    lengths = np.flatnonzero(is_end) + 1 - starts
    tok_offsets = np.concatenate(([0], np.cumsum(lengths)))
    # (Arrow's filter packs them in 0.6× the time of numpy's data[word] on real code.)
    keep = pa.BooleanArray.from_buffers(pa.bool_(), len(word), [None, pa.py_buffer(np.packbits(word, bitorder="little"))])
    packed = pc.filter(pa.array(data), keep)
    tokens = pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(tok_offsets), packed.buffers()[1], offset=0)
    encoded = pc.dictionary_encode(tokens)
    uniques = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    hashes = token_hashes(uniques)[encoded.indices.to_numpy()]
    if max_tokens is not None and counts.max() > max_tokens:
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        position = np.arange(len(hashes)) - np.repeat(first, counts)
        hashes = hashes[position < max_tokens]
        counts = np.minimum(counts, max_tokens)
    return hashes, counts


def shingle_hashes(tok: np.ndarray, counts: np.ndarray, ngram: int,
                   bits: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes (as uint64) of every n-gram window that lies inside one document
    (`bits=64`: the full 64-bit mix, used where collisions must be negligible).

    `tok`: token hashes of all docs concatenated; `counts`: tokens per doc. Returns the
    shingle hashes in document order and the number of shingles per doc (max(count−n+1, 0)).
    """
    per_doc = np.maximum(counts - ngram + 1, 0)
    total = len(tok)
    if total < ngram or per_doc.sum() == 0:
        return np.zeros(0, dtype=np.uint64), per_doc
    windows = total - ngram + 1
    acc = np.full(windows, _MIX_INIT, dtype=np.uint64)
    mul = np.uint64(_MIX_MUL)
    for j in range(ngram):
        np.bitwise_xor(acc, tok[j:j + windows], out=acc)
        np.multiply(acc, mul, out=acc)
        np.bitwise_xor(acc, acc >> np.uint64(29), out=acc)
    if bits == 32:
        acc >>= np.uint64(32)
    # A window is a shingle when it starts and ends inside the same document.
    ends = np.cumsum(counts)
    doc_of_token = np.repeat(np.arange(len(counts)), counts)
    valid = np.arange(windows) + ngram <= ends[doc_of_token[:windows]]
    return acc[valid], per_doc


def shingle_hash_reference(token_hash_values: list[int]) -> int:
    """The same shingle mix in plain Python integers (used by tests as the reference)."""
    acc = _MIX_INIT
    for t in token_hash_values:
        acc = ((acc ^ t) * _MIX_MUL) & _U64
        acc ^= acc >> 29
    return acc >> 32


# ---- permutations and minima ---------------------------------------------------------------

def _permute_into(h: np.ndarray, a: np.ndarray, b: np.ndarray, buf: np.ndarray) -> None:
    """buf[j, i] = (a_j·h_i + b_j) mod 2^64 for 32-bit shingle hashes h_i; the permuted value
    is its high 32 bits, taken after the per-document minimum (below).

    Layout is (permutations × shingles) so every pass is contiguous and the per-document
    minimum reduces along rows. uint64 arithmetic wraps modulo 2^64, which is the scheme's
    definition.
    """
    np.multiply(a[:, None], h[None, :], out=buf)
    np.add(buf, b[:, None], out=buf)


def unique_per_doc(sh: np.ndarray, per_doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop repeated shingles inside each document (a set is MinHashed; repeats change no
    minimum, they only cost time). Returns shingles grouped by doc and the new counts."""
    if len(sh) == 0:
        return sh, per_doc
    doc = np.repeat(np.arange(len(per_doc), dtype=np.uint64), per_doc)
    keys = sorted_unique((doc << np.uint64(32)) | sh)
    counts = np.bincount((keys >> np.uint64(32)).astype(np.int64), minlength=len(per_doc))
    return keys & _MASK, counts


def optional_torch():
    """torch when importable (a project dependency; udfs work without it, on numpy alone)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed with codemill
        return None
    return torch


def minhash_shingles(sh: np.ndarray, per_doc: np.ndarray, a: np.ndarray, b: np.ndarray,
                     chunk: int = 1024, use_torch: bool = True) -> np.ndarray:
    """Signatures (docs × perms, uint32, all-max for docs without shingles) of the shingle
    hashes `sh` grouped by doc (`per_doc` shingles each), `chunk` shingles at a time.

    The multiply-add a·h + b runs in torch's int64 addcmul, one pass, when torch is
    importable (0.68 ns per element here against 1.6 for numpy's separate multiply and add
    passes; both wrap modulo 2^64, so the bits are the same — the tests compare both paths
    with the plain-integer reference); `use_torch=False` forces numpy.
    """
    n_docs, num_perm = len(per_doc), len(a)
    sig = np.full((n_docs, num_perm), MAX_HASH_32, dtype=np.uint32)
    total = len(sh)
    if total == 0:
        return sig
    starts = np.concatenate(([0], np.cumsum(per_doc)[:-1]))
    nonempty = per_doc > 0
    doc_starts = starts[nonempty]          # shingle index where each non-empty doc begins
    doc_ids = np.flatnonzero(nonempty)
    width = min(chunk, total)
    torch = optional_torch() if use_torch else None
    if torch is not None:
        sh = np.ascontiguousarray(sh, dtype=np.uint64)
        ta = torch.from_numpy(a.view(np.int64))[:, None]
        tb = torch.from_numpy(b.view(np.int64))[:, None]
        tbuf = torch.empty((num_perm, width), dtype=torch.int64)
        buf = tbuf.numpy().view(np.uint64)
    else:
        buf = np.empty((num_perm, width), dtype=np.uint64)
    for c0 in range(0, total, chunk):
        c1 = min(c0 + chunk, total)
        m = c1 - c0
        if torch is None:
            _permute_into(sh[c0:c1], a, b, buf[:, :m])
            block = buf[:, :m]
        elif m == width:
            torch.addcmul(tb, ta, torch.from_numpy(sh[c0:c1].view(np.int64))[None, :], out=tbuf)
            block = buf
        else:
            block = torch.addcmul(tb, ta, torch.from_numpy(sh[c0:c1].view(np.int64))[None, :]).numpy().view(np.uint64)
        # Segments of this chunk: the chunk start plus every doc start inside it.
        lo = np.searchsorted(doc_starts, c0, side="right")
        hi = np.searchsorted(doc_starts, c1, side="left")
        seg = np.concatenate(([c0], doc_starts[lo:hi]))
        seg_docs = doc_ids[np.searchsorted(doc_starts, seg, side="right") - 1]
        # x -> x >> 32 never decreases, so the high half of the minimum is the minimum of the
        # high halves: shifting the (docs × perms) minima saves a pass over every element.
        partial = (np.minimum.reduceat(block, seg - c0, axis=1).T >> _SHIFT_32).astype(np.uint32)
        sig[seg_docs] = np.minimum(sig[seg_docs], partial)
    return sig


def signatures(contents, params: MinHashParams = MinHashParams(), chunk: int = 1024, use_torch: bool = True):
    """MinHash signatures of a batch of documents.

    Returns (sig, has_sig): sig is (docs × num_perm) uint32; has_sig is
    False for documents with fewer than `ngram` tokens (their row is meaningless).
    """
    a, b = permutations(params.num_perm, params.seed)
    tok, counts = _batch_tokens(contents, params.max_tokens)
    sh, per_doc = shingle_hashes(tok, counts, params.ngram)
    sh, per_doc = unique_per_doc(sh, per_doc)
    return minhash_shingles(sh, per_doc, a, b, chunk=chunk, use_torch=use_torch), per_doc > 0


def signature_reference(text: str, params: MinHashParams = MinHashParams()) -> list[int] | None:
    """One document's signature with plain Python loops and integers (a test reference)."""
    tokens = tokenize(text, params.max_tokens)
    if len(tokens) < params.ngram:
        return None
    th = [int(token_hashes(np.array([t], dtype=object))[0]) for t in tokens]
    shingles = {shingle_hash_reference(th[i:i + params.ngram]) for i in range(len(th) - params.ngram + 1)}
    a, b = permutations(params.num_perm, params.seed)
    return [min(((int(ai) * s + int(bi)) & _U64) >> 32 for s in shingles) for ai, bi in zip(a, b)]


def estimated_jaccard(sig_a, sig_b) -> float:
    sig_a, sig_b = np.asarray(sig_a), np.asarray(sig_b)
    return float(np.mean(sig_a == sig_b)) if len(sig_a) else 0.0


# ---- LSH bands -------------------------------------------------------------------------------

def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """LSH bucket keys: for a (docs × ≥ bands·rows) signature matrix, the (docs × bands) int64
    hashes of each band's `rows` values (the shingle mix, 64 bits). Two docs share bucket
    (band, h) when their band values are equal (up to 64-bit collisions, ~n²/2^65)."""
    sig = np.asarray(sig)
    if sig.ndim != 2 or sig.shape[1] < bands * rows:
        raise ValueError(f"signatures of shape {sig.shape} have fewer than bands × rows = {bands * rows} values")
    values = sig[:, :bands * rows].astype(np.uint64).reshape(len(sig), bands, rows)
    acc = np.full((len(sig), bands), _MIX_INIT, dtype=np.uint64)
    mul = np.uint64(_MIX_MUL)
    for j in range(rows):
        np.bitwise_xor(acc, values[:, :, j], out=acc)
        np.multiply(acc, mul, out=acc)
        np.bitwise_xor(acc, acc >> np.uint64(29), out=acc)
    return acc.view(np.int64)


def _integrate(f, lo: float, hi: float, steps: int = 2000) -> float:
    if hi <= lo:
        return 0.0
    x = np.linspace(lo, hi, steps + 1)
    y = f(x)
    return float(np.sum((y[1:] + y[:-1]) * 0.5 * np.diff(x)))


def false_positive_area(threshold: float, bands: int, rows: int) -> float:
    """∫_0^t P(candidate | s) ds with P = 1 − (1 − s^r)^b: pairs below t that LSH still pairs."""
    return _integrate(lambda s: 1.0 - (1.0 - s ** rows) ** bands, 0.0, threshold)


def false_negative_area(threshold: float, bands: int, rows: int) -> float:
    """∫_t^1 (1 − P(candidate | s)) ds: pairs above t that LSH misses."""
    return _integrate(lambda s: (1.0 - s ** rows) ** bands, threshold, 1.0)


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5,
                  fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) with bands·rows ≤ num_perm minimizing fp_weight·FP + fn_weight·FN area
    (docs/recipe.md §4.3: (0.7, 256) → 25 × 10)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    best, best_err = (1, 1), math.inf
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            err = (fp_weight * false_positive_area(threshold, bands, rows)
                   + fn_weight * false_negative_area(threshold, bands, rows))
            if err < best_err:
                best, best_err = (bands, rows), err
    return best


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    return 1.0 - (1.0 - similarity ** rows) ** bands


# ---- exact Jaccard ---------------------------------------------------------------------------

def shingle_set(text: str, ngram: int = 5, max_tokens: int | None = None) -> set[tuple[str, ...]]:
    """The exact shingle set (tuples of token strings, no hashing) of one document."""
    tokens = tokenize(text, max_tokens)
    return {tuple(tokens[i:i + ngram]) for i in range(len(tokens) - ngram + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def exact_shingle_ids(contents: list[str], ngram: int = 5,
                      max_tokens: int | None = None) -> list[np.ndarray]:
    """Per document, the sorted unique ids of its shingles, ids exact (no hashing): tokens are
    numbered by a corpus-wide dictionary and shingles by the distinct rows of their n token
    numbers, so two shingles get the same id iff they are the same token sequence."""
    docs_tokens = [tokenize(c or "", max_tokens) for c in contents]
    vocab: dict[str, int] = {}
    tok_ids = [np.array([vocab.setdefault(t, len(vocab)) for t in toks], dtype=np.int64) for toks in docs_tokens]
    rows, owner = [], []
    for d, ids in enumerate(tok_ids):
        if len(ids) >= ngram:
            win = np.lib.stride_tricks.sliding_window_view(ids, ngram)
            rows.append(win)
            owner.append(np.full(len(win), d, dtype=np.int64))
    result = [np.zeros(0, dtype=np.int64) for _ in contents]
    if not rows:
        return result
    allrows = np.concatenate(rows)
    owners = np.concatenate(owner)
    # number the distinct rows: lexicographic sort, then a new id wherever a row changes
    order = np.lexsort(allrows.T[::-1])
    ranked = allrows[order]
    changed = np.ones(len(ranked), dtype=bool)
    changed[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
    inverse = np.empty(len(ranked), dtype=np.int64)
    inverse[order] = np.cumsum(changed) - 1
    order = np.lexsort((inverse, owners))
    owners_sorted, ids_sorted = owners[order], inverse[order]
    bounds = np.searchsorted(owners_sorted, np.arange(len(contents) + 1))
    for d in range(len(contents)):
        result[d] = sorted_unique(ids_sorted[bounds[d]:bounds[d + 1]])
    return result


def similar_pairs_exact(sets: list[np.ndarray], threshold: float) -> dict[tuple[int, int], float]:
    """Every pair (i < j) of non-empty sets with Jaccard ≥ threshold, with its Jaccard.

    Exact by construction (prefix filtering, Chaudhuri et al. 2006 / AllPairs): order every
    set's elements by global frequency (rarest first); if J(x, y) ≥ t, x and y share an element
    within the first |x| − ceil(t·|x|) + 1 elements of x (and |y| − ceil(t·|y|) + 1 of y),
    because J ≥ t implies |x ∩ y| ≥ t·|x ∪ y| ≥ t·max(|x|, |y|); pairs sharing no prefix
    element cannot reach t. Candidates also need t·|y| ≤ |x| ≤ |y| (size filter). Every candidate is
    then verified by an exact intersection.
    """
    n = len(sets)
    nonempty = [i for i in range(n) if len(sets[i])]
    if not nonempty:
        return {}
    allv = np.concatenate([sets[i] for i in nonempty])
    freq = np.bincount(allv)
    # rank[e] = position of element e in the global (frequency, id) order
    order = np.lexsort((np.arange(len(freq)), freq))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    ordered = {i: np.sort(rank[sets[i]]) for i in nonempty}
    sizes = {i: len(sets[i]) for i in nonempty}
    index: dict[int, list[int]] = {}
    candidates: set[tuple[int, int]] = set()
    for i in sorted(nonempty, key=lambda k: (sizes[k], k)):  # ascending size: y probes smaller x
        size = sizes[i]
        prefix = size - math.ceil(threshold * size - 1e-12) + 1
        for e in ordered[i][:prefix].tolist():
            for j in index.get(e, ()):
                if sizes[j] >= threshold * size - 1e-12:
                    candidates.add((min(i, j), max(i, j)))
            index.setdefault(e, []).append(i)
    result = {}
    for i, j in candidates:
        inter = np.intersect1d(ordered[i], ordered[j], assume_unique=True).size
        sim = inter / (sizes[i] + sizes[j] - inter)
        if sim >= threshold - 1e-12:
            result[(i, j)] = sim
    return result


# ---- keep rule -------------------------------------------------------------------------------

LICENSE_RANK = {"permissive": 2, "no_license": 1, "non_permissive": 0}  # docs/recipe.md §4.4 "--rank"


def license_rank(license_type: str | None, license: str | None, has_license_type: bool) -> int:
    """Keep-rule licence preference: by license_type when the table has it (permissive >
    no_license > non_permissive), else files with a detected licence before files without."""
    if has_license_type:
        return LICENSE_RANK.get(license_type or "", -1)
    return 1 if license else 0


def keep_sort_key(rank: int, stars: int | None, file_id: str) -> tuple:
    """Sort key of the keep rule: the smallest key in a cluster survives — higher licence
    rank first, then more stars (unknown stars below 0), then the smallest file_id."""
    return (-rank, -(stars if stars is not None else -1), file_id)


def choose_survivor(members: list[dict], has_license_type: bool) -> dict:
    """The member kept by the keep rule (dicts with file_id, stars, license[, license_type])."""
    return min(members, key=lambda m: keep_sort_key(
        license_rank(m.get("license_type"), m.get("license"), has_license_type), m.get("stars"), m["file_id"]))


def batch_shingle_sets(contents, ngram: int = 5, max_tokens: int | None = None) -> list[np.ndarray]:
    """Per document, the sorted distinct 64-bit shingle hashes (vectorized over the batch)."""
    tok, counts = _batch_tokens(contents, max_tokens)
    sh, per_doc = shingle_hashes(tok, counts, ngram, bits=64)
    bounds = np.concatenate(([0], np.cumsum(per_doc)))
    return [sorted_unique(sh[bounds[i]:bounds[i + 1]]) for i in range(len(per_doc))]


def sorted_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard of two sorted arrays of distinct values."""
    if len(a) == 0 and len(b) == 0:
        return 0.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (len(a) + len(b) - inter)
