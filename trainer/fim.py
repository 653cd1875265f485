"""Fill-in-the-middle on packed token sequences (docs/recipe.md §8).

Applied on the fly in the data loader, after packing:
- the sequence is split at EOD (`<|endoftext|>`); each fragment between EODs (documents,
  or pieces of documents cut by packing) is transformed independently with probability
  `fim_rate`;
- a transformed fragment is decoded to characters, two cut points are drawn uniformly from
  [0, len] (sorted, empty pieces allowed), and prefix / middle / suffix are re-tokenised
  separately (character-level FIM);
- layout PSM `<fim_prefix> P <fim_suffix> S <fim_middle> M`, or with probability
  `spm_rate` SPM `<fim_prefix> <fim_suffix> S <fim_middle> P M`;
- the whole sequence is then truncated to its original length or right-padded with `<fim_pad>`.
Repository-level variant (StarCoder2): with `split_token` (`<file_sep>`) a document is chosen
with probability `fim_rate`, then each file piece between `<file_sep>` tokens is transformed
with probability `fragment_rate`.

Pure numpy + two callables (decode ids -> str, encode str -> ids); the caller passes a numpy
Generator seeded per sample, so the result depends only on (seed, sample index).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

Decode = Callable[[Sequence[int]], str]
Encode = Callable[[str], Sequence[int]]


@dataclass(frozen=True)
class FimTokens:
    eod: int
    prefix: int
    middle: int
    suffix: int
    pad: int
    file_sep: int | None = None

    @classmethod
    def from_tokenizer(cls, tokenizer) -> "FimTokens":
        """From a transformers tokenizer (or anything with convert_tokens_to_ids / token_to_id)."""
        lookup = getattr(tokenizer, "convert_tokens_to_ids", None) or tokenizer.token_to_id

        def tid(tok: str, required: bool = True) -> int | None:
            value = lookup(tok)
            unk = getattr(tokenizer, "unk_token_id", None)
            if value is None or (value == unk and tok != "<|endoftext|>"):
                if required:
                    raise ValueError(f"tokenizer has no special token {tok} (docs/recipe.md §7.2 / §8)")
                return None
            return int(value)

        return cls(eod=tid("<|endoftext|>"), prefix=tid("<fim_prefix>"), middle=tid("<fim_middle>"),
                   suffix=tid("<fim_suffix>"), pad=tid("<fim_pad>"), file_sep=tid("<file_sep>", required=False))


def fim_fragment(fragment: np.ndarray, rng: np.random.Generator, tokens: FimTokens,
                 decode: Decode, encode: Encode, spm_rate: float = 0.5) -> np.ndarray:
    """Unconditionally FIM-transform one fragment (no length control)."""
    text = decode(fragment.tolist())
    lo, hi = sorted(int(x) for x in rng.integers(0, len(text) + 1, size=2))
    prefix = np.asarray(encode(text[:lo]), dtype=np.int64)
    middle = np.asarray(encode(text[lo:hi]), dtype=np.int64)
    suffix = np.asarray(encode(text[hi:]), dtype=np.int64)
    if rng.random() < spm_rate:
        parts = [[tokens.prefix, tokens.suffix], suffix, [tokens.middle], prefix, middle]
    else:
        parts = [[tokens.prefix], prefix, [tokens.suffix], suffix, [tokens.middle], middle]
    return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])


def _split_on(seq: np.ndarray, token: int) -> list[np.ndarray]:
    """Pieces between occurrences of `token` (len = count + 1; pieces may be empty)."""
    cuts = np.flatnonzero(seq == token)
    return np.split(seq, cuts)  # each piece after the first starts with `token`


def _transform_pieces(seq: np.ndarray, sep: int, rate: float, rng: np.random.Generator,
                      fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Split at `sep`, transform each non-empty piece with probability `rate`, keep every separator."""
    out = []
    for i, piece in enumerate(_split_on(seq, sep)):
        head, body = (piece[:1], piece[1:]) if i > 0 else (piece[:0], piece)
        out.append(head)
        if body.size and rng.random() < rate:
            body = fn(body)
        out.append(body)
    return np.concatenate(out) if out else seq


def apply_fim(sample: np.ndarray, rng: np.random.Generator, tokens: FimTokens, decode: Decode,
              encode: Encode, fim_rate: float = 0.5, spm_rate: float = 0.5,
              split_token: int | None = None, fragment_rate: float = 0.5) -> np.ndarray:
    """FIM on one packed sequence; returns a sequence of the same length (docs/recipe.md §8)."""
    sample = np.asarray(sample, dtype=np.int64)
    if fim_rate <= 0:
        return sample

    def one_fragment(frag: np.ndarray) -> np.ndarray:
        return fim_fragment(frag, rng, tokens, decode, encode, spm_rate)

    if split_token is None:
        out = _transform_pieces(sample, tokens.eod, fim_rate, rng, one_fragment)
    else:
        def repository(doc: np.ndarray) -> np.ndarray:
            return _transform_pieces(doc, split_token, fragment_rate, rng, one_fragment)
        out = _transform_pieces(sample, tokens.eod, fim_rate, rng, repository)

    n = sample.shape[0]
    if out.shape[0] >= n:
        return out[:n]
    return np.concatenate([out, np.full(n - out.shape[0], tokens.pad, dtype=np.int64)])


def parse_fim(fragment_ids: Sequence[int], tokens: FimTokens) -> tuple[str, list[int], list[int], list[int]]:
    """Inverse view of one transformed fragment: (layout, prefix ids, middle ids, suffix ids).

    Used by tests and debugging; expects exactly one set of sentinels.
    """
    ids = list(fragment_ids)
    if ids[:2] == [tokens.prefix, tokens.suffix]:  # SPM
        m = ids.index(tokens.middle)
        suffix = ids[2:m]
        rest = ids[m + 1:]
        return "SPM", rest, [], suffix  # prefix+middle are contiguous in SPM; split is not recoverable
    if ids[:1] == [tokens.prefix]:
        s = ids.index(tokens.suffix)
        m = ids.index(tokens.middle)
        return "PSM", ids[1:s], ids[m + 1:], ids[s + 1:m]
    raise ValueError("not a FIM fragment")
