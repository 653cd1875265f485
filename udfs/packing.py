"""Packing token streams into fixed-length training sequences (docs/recipe.md §7.2). No Spark here.

Documents, each ending with exactly one EOD token, are concatenated in doc_id order into one
stream that is cut into sequences of `seq_len + 1` tokens (the trainer shifts by one for the
labels), packing across document boundaries as Megatron does. The stream is cut in a
distributed way: every document knows its global start offset; the sequences are grouped in
parts of consecutive sequences, every document goes to the part(s) its tokens fall in, and each
part fills its block of the stream from its documents (`parts_of`, `cut_part`).

The last partial sequence is padded with the pad token (`<fim_pad>`, the token Megatron's
FIM code pads with) or dropped, as configured; the count of padded / dropped tokens is
reported. Sequences are then shuffled with a seeded permutation.
"""
from __future__ import annotations

import numpy as np


def finish_document(ids: list[int] | np.ndarray, eod_id: int) -> tuple[np.ndarray, int]:
    """The document's ids with EOD exactly once, at the end. Returns (ids, number of EOD
    tokens removed from inside the document)."""
    arr = np.asarray(ids, dtype=np.int32)
    inside = arr[:-1] if arr.size and arr[-1] == eod_id else arr
    removed = int(np.count_nonzero(inside == eod_id))
    if removed:
        inside = inside[inside != eod_id]
    return np.append(inside, np.int32(eod_id)).astype(np.int32), removed


def start_offsets(lengths: np.ndarray) -> np.ndarray:
    """Global start offset of each document in the stream (lengths in stream order)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64) if lengths.size else lengths


def parts_of(starts: np.ndarray, lengths: np.ndarray, block: int, seqs_per_part: int) -> tuple[np.ndarray, np.ndarray]:
    """(first part, last part) each document's tokens fall in, a part being `seqs_per_part`
    consecutive sequences of `block` tokens (documents of no tokens: their start's part)."""
    starts, lengths = np.asarray(starts, np.int64), np.asarray(lengths, np.int64)
    tokens_per_part = block * seqs_per_part
    last = starts + np.maximum(lengths, 1) - 1
    return starts // tokens_per_part, last // tokens_per_part


def cut_part(part: int, seqs_per_part: int, n_seq: int, block: int, pad_id: int,
             docs) -> tuple[np.ndarray, np.ndarray]:
    """(sequence indexes, sequences as an (k, block) int32 matrix) of one part, filled from
    `docs`, the (start, ids) of every document overlapping the part. Positions past the end of
    the stream hold `pad_id` (the padded last sequence)."""
    seq_lo = part * seqs_per_part
    seq_hi = min(n_seq, seq_lo + seqs_per_part)
    lo, hi = seq_lo * block, seq_hi * block
    stream = np.full(max(0, hi - lo), pad_id, dtype=np.int32)
    for start, ids in docs:
        s, e = max(int(start), lo), min(int(start) + len(ids), hi)
        if s < e:
            stream[s - lo:e - lo] = ids[s - int(start):e - int(start)]
    return np.arange(seq_lo, seq_hi, dtype=np.int64), stream.reshape(-1, block)


def sequence_documents(seq_lo: int, seq_hi: int, block: int, spans) -> list[list[int]]:
    """For each sequence index in [seq_lo, seq_hi), the indexes (into `spans`, in order) of the
    documents whose tokens it holds; `spans` are the (start, n_tokens) of the documents, as
    cut_part receives them. This is gold/tokens' doc_ids column: an opt-out removes exactly
    the sequences that hold a token of a removed document."""
    out: list[list[int]] = [[] for _ in range(max(0, seq_hi - seq_lo))]
    for i, (start, n) in enumerate(spans):
        if n <= 0:
            continue
        first = max(int(start) // block, seq_lo)
        last = min((int(start) + int(n) - 1) // block, seq_hi - 1)
        for seq in range(first, last + 1):
            out[seq - seq_lo].append(i)
    return out


def split_document(start: int, ids: np.ndarray, block: int) -> list[tuple[int, int, np.ndarray]]:
    """Pieces (sequence index, offset in sequence, ids) of a document starting at `start`."""
    pieces = []
    pos, end = int(start), int(start) + len(ids)
    while pos < end:
        seq, offset = divmod(pos, block)
        take = min(block - offset, end - pos)
        pieces.append((seq, offset, ids[pos - start: pos - start + take]))
        pos += take
    return pieces


def assemble(pieces: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """Concatenate (offset, ids) pieces of one sequence in offset order."""
    pieces = sorted(pieces, key=lambda p: p[0])
    return np.concatenate([np.asarray(p[1], dtype=np.int32) for p in pieces]) if pieces else np.zeros(0, np.int32)


def plan(total_tokens: int, block: int, last_sequence: str) -> tuple[int, int, int]:
    """(number of sequences, tokens padded, tokens dropped) for a stream of total_tokens."""
    full, rest = divmod(int(total_tokens), block)
    if rest == 0:
        return full, 0, 0
    if last_sequence == "pad":
        return full + 1, block - rest, 0
    if last_sequence == "drop":
        return full, 0, rest
    raise ValueError(f"last_sequence must be 'pad' or 'drop', not {last_sequence!r}")


def pad_to(ids: np.ndarray, block: int, pad_id: int) -> np.ndarray:
    if len(ids) >= block:
        return ids
    return np.concatenate([ids, np.full(block - len(ids), pad_id, dtype=np.int32)])


def shuffle_permutation(n: int, seed: int) -> np.ndarray:
    """perm[i] = shuffled position (seq_id) of the i-th packed sequence."""
    return np.random.default_rng(seed).permutation(n).astype(np.int64)


def pack_sequential(docs: list[list[int]], block: int, pad_id: int, last_sequence: str = "pad") -> list[np.ndarray]:
    """Reference (single-process) packing of already-finished documents, in order; used by
    tests to check the distributed packing."""
    stream = np.concatenate([np.asarray(d, dtype=np.int32) for d in docs]) if docs else np.zeros(0, np.int32)
    n_seq, _, _ = plan(len(stream), block, last_sequence)
    return [pad_to(stream[i * block:(i + 1) * block], block, pad_id) for i in range(n_seq)]
