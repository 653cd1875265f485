"""Training data: `gold/tokens` at a pinned Delta version, in a fixed order, sharded by rank.

- Read through the Delta log with `deltalake` (never the folder as plain Parquet: that would
  also see files an overwrite removed). The version is pinned when the run starts and recorded
  in checkpoints and the lineage file, so a resumed or repeated run reads the same rows.
- Order: by `seq_id` (the tokenize stage writes it as the shuffled order). The last
  `heldout_fraction` of sequences are held out for evaluation.
- Global sample stream t = 0, 1, 2, ... maps to row t mod N (epochs wrap); rank r of W reads
  t = u*W + r for its local counter u. The position to resume from is that counter (the same
  on every rank), so a restarted run continues with exactly the next samples.
- FIM (trainer/fim.py) is applied per sample with a numpy Generator seeded by (seed, t):
  the same sample index always gets the same transformation, whatever happened before.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from trainer.fim import FimTokens, apply_fim

TOKENS_TABLE = "gold/tokens"  # schemas/tables.py TOKENS: seq_id long, input_ids list<int32>, run_id string


class DataError(Exception):
    """Problem with the lake data a user can fix (missing table, tokenizer, bad version)."""


def latest_version(table_path: str | Path) -> int:
    from deltalake import DeltaTable
    try:
        return int(DeltaTable(str(table_path)).version())
    except Exception as err:  # deltalake raises TableNotFoundError and friends
        raise DataError(f"no Delta table at {table_path}: {err}") from None


def published_version(lake: str | Path, table: str = TOKENS_TABLE) -> int:
    """The version of `table` training reads when none is pinned: its published version (the
    newest one whose tokenize gate passed, jobs/core/publish.py), never the latest write."""
    from jobs.core.publish import published_version as resolve
    version = resolve(lake, table)
    if version is None:
        latest = "no version" if not (Path(lake) / table).exists() else f"version {latest_version(Path(lake) / table)}"
        raise DataError(f"{table} has no published version in {lake} ({latest} written; none has passed its gate): "
                        f"run `codemill run`, or `codemill check tokenize` to audit and publish it, "
                        f"or pin one with --version")
    return version


def read_sequences(table_path: str | Path, version: int) -> np.ndarray:
    """All sequences of the table at `version`, ordered by seq_id, as an int64 array (N, L).

    Sequences shorter than the longest are right-padded with -1 (the collate step turns that
    into padding with no loss).
    """
    from jobs.core.delta_read import query
    try:
        table = query(str(table_path), "SELECT seq_id, input_ids FROM t", version=int(version))
    except Exception as err:
        raise DataError(f"cannot open {table_path} at version {version}: {err}") from None
    if table.num_rows == 0:
        raise DataError(f"{table_path} (version {version}) has no sequences")
    order = np.argsort(table.column("seq_id").to_numpy(), kind="stable")
    lists = table.column("input_ids").combine_chunks()
    lengths = np.diff(lists.offsets.to_numpy())
    flat = lists.values.to_numpy(zero_copy_only=False).astype(np.int64)
    width = int(lengths.max())
    out = np.full((len(lengths), width), -1, dtype=np.int64)
    starts = lists.offsets.to_numpy()[:-1]
    if (lengths == width).all():
        out[:] = flat.reshape(len(lengths), width)
    else:
        for i, (s, n) in enumerate(zip(starts, lengths)):
            out[i, :n] = flat[s:s + n]
    return out[order]


def load_tokenizer(path: str | Path):
    from transformers import PreTrainedTokenizerFast
    path = Path(path)
    if not (path / "tokenizer.json").exists():
        raise DataError(f"no tokenizer at {path} (expected tokenizer.json; run `codemill tokenizer train`)")
    return PreTrainedTokenizerFast.from_pretrained(str(path))


def split_heldout(n: int, fraction: float) -> int:
    """Number of held-out sequences out of n (at least 1 when fraction > 0 and n >= 2)."""
    if fraction <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, int(round(n * fraction))))


class TokenStream:
    """Rank-local, resumable stream of training samples (numpy arrays, FIM applied)."""

    def __init__(self, sequences: np.ndarray, tokenizer=None, *, rank: int = 0, world: int = 1, seed: int = 0,
                 fim_rate: float = 0.0, fim_spm_rate: float = 0.5, fim_split_sample: str | None = None,
                 fragment_fim_rate: float = 0.5):
        if len(sequences) == 0:
            raise DataError("no training sequences (is the held-out fraction too large?)")
        self.sequences = sequences
        self.rank, self.world, self.seed = rank, world, seed
        self.fim_rate, self.fim_spm_rate, self.fragment_fim_rate = fim_rate, fim_spm_rate, fragment_fim_rate
        self.position = 0  # local samples consumed on this rank (== on every rank)
        self._fim = None
        if fim_rate > 0:
            if tokenizer is None:
                raise ValueError("FIM needs the tokenizer")
            tokens = FimTokens.from_tokenizer(tokenizer)
            split = None
            if fim_split_sample:
                split = tokenizer.convert_tokens_to_ids(fim_split_sample)
                if split is None or split == tokenizer.unk_token_id:
                    raise DataError(f"tokenizer has no {fim_split_sample} token for repository-level FIM")
            backend = tokenizer.backend_tokenizer  # raw `tokenizers` object: fast, no special handling

            def decode(ids):
                return backend.decode(ids, skip_special_tokens=False)

            def encode(text):
                return backend.encode(text, add_special_tokens=False).ids

            self._fim = (tokens, decode, encode, split)

    def global_index(self, local: int) -> int:
        return local * self.world + self.rank

    def sample(self, local: int) -> np.ndarray:
        t = self.global_index(local)
        seq = self.sequences[t % len(self.sequences)]
        valid = seq[seq >= 0]
        if self._fim is None:
            out = valid
        else:
            tokens, decode, encode, split = self._fim
            rng = np.random.default_rng([self.seed, t])
            out = apply_fim(valid, rng, tokens, decode, encode, fim_rate=self.fim_rate,
                            spm_rate=self.fim_spm_rate, split_token=split, fragment_rate=self.fragment_fim_rate)
        if len(valid) < len(seq):
            out = np.concatenate([out, np.full(len(seq) - len(valid), -1, dtype=np.int64)])
        return out

    def next_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        rows = [self.sample(self.position + i) for i in range(batch_size)]
        self.position += batch_size
        return collate(rows)

    def state_dict(self) -> dict:
        return {"position": self.position, "world": self.world, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        if int(state["world"]) != self.world:
            raise DataError(f"checkpoint was written with {state['world']} data-parallel ranks, "
                            f"this run has {self.world}: the sample order would change")
        self.position = int(state["position"])


def collate(rows: list[np.ndarray], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Stack samples of seq_len + 1 tokens into inputs (first seq_len) and next-token targets
    (last seq_len), as Megatron does; -1 marks padding: pad_id in inputs, -100 (no loss) in labels."""
    arr = np.stack(rows)
    mask = arr >= 0
    tokens = np.where(mask, arr, pad_id)
    input_ids = torch.from_numpy(tokens[:, :-1].copy())
    labels = torch.from_numpy(np.where(mask, arr, -100)[:, 1:].copy())
    return {"input_ids": input_ids, "labels": labels,
            "attention_mask": torch.from_numpy(mask[:, :-1].astype(np.int64))}


def lm_loss(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Next-token cross-entropy; `labels` are already the shifted targets (see collate)."""
    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1),
                                             ignore_index=-100, reduction=reduction)


def window(sequences: np.ndarray, seq_len: int) -> np.ndarray:
    """Cut stored rows longer than seq_len + 1 tokens into consecutive windows of seq_len + 1
    (row by row, in order; a row's remainder shorter than a window is dropped)."""
    w = int(seq_len) + 1
    if sequences.shape[1] <= w:
        return sequences
    k = sequences.shape[1] // w
    out = sequences[:, :k * w].reshape(-1, w)
    return out[out[:, 1] >= 0]  # windows that are padding only (nothing to predict) go


def heldout_batches(sequences: np.ndarray, batch_size: int, rank: int = 0, world: int = 1,
                    max_batches: int = 0):
    """Held-out micro-batches for this rank (no FIM: plain next-token loss)."""
    mine = sequences[rank::world]
    count = 0
    for i in range(0, len(mine), batch_size):
        if max_batches and count >= max_batches:
            return
        yield collate(list(mine[i:i + batch_size]))
        count += 1


def batch_digest(batch: dict[str, torch.Tensor]) -> str:
    """Short fingerprint of a batch's tokens (logged per step, compared by the resume test)."""
    return hashlib.sha1(batch["input_ids"].numpy().tobytes()).hexdigest()[:16]
