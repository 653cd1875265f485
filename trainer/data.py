"""Training data: `gold/tokens` at a pinned Delta version, streamed per Parquet row group, in a
fixed order, sharded by rank.

- Read through the Delta log with `deltalake` (never the folder as plain Parquet: that would
  also see files an overwrite removed). The version is pinned when the run starts and recorded
  in checkpoints and the lineage file, so a resumed or repeated run reads the same rows.
- Streaming (`TokenTable`): what is held for the whole table is small metadata: the data files
  the pinned version lists (the Delta log's add actions: path, row count, smallest and largest
  seq_id) and, for the files a rank reads, their Parquet footers (rows per row group). Tokens are
  read one row group at a time (pyarrow.parquet on exactly those files), `data.read_ahead` row
  groups ahead on a background thread: a rank holds at most 1 + read_ahead row groups of tokens,
  whatever the size of the table.
- Order: by `seq_id` (the tokenize stage writes it as the shuffled order, sorted: `orderBy`),
  read as files by their smallest seq_id, row groups in file order, rows of a row group sorted by
  seq_id; that is seq_id order whenever files hold disjoint seq_id ranges, which the tokenize
  stage's sorted write gives (otherwise a warning says the stream follows the files). Rows longer
  than a training window are cut into windows (`window`); the samples are those windows in that
  order. The last `heldout_fraction` of samples are held out for evaluation.
- Sharding: the N training samples are cut into W contiguous blocks, rank r of W owns samples
  [N*r//W, N*(r+1)//W) (`rank_block`) and reads only the row groups of its block (a row group
  at a block boundary is read by both neighbours). Rank r's local sample u is sample u mod n_r of
  its block (its epochs wrap). The position to resume from is the local counter u (the same on
  every rank), so a restarted run continues with exactly the next samples. With one rank this is
  the order of the in-memory reader it replaced (sample t = row t mod N); with more ranks that
  reader interleaved them (t = u*W + r), so its multi-rank checkpoints are refused on resume.
- FIM (trainer/fim.py) is applied per sample with a numpy Generator seeded by (seed, t), t =
  u*W + r the global sample index: the same sample index always gets the same transformation,
  whatever happened before.
"""
from __future__ import annotations

import bisect
import hashlib
import logging
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import torch

from trainer.fim import FimTokens, apply_fim

TOKENS_TABLE = "gold/tokens"  # schemas/tables.py TOKENS: seq_id long, input_ids list<int32>, doc_ids, run_id
READ_COLUMNS = ["seq_id", "input_ids"]

log = logging.getLogger(__name__)


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
    """All sequences of the table at `version`, ordered by seq_id, as an int64 array (N, L): the
    whole table in memory. The trainer streams instead (TokenTable); this is the reference
    definition its tests and benchmarks/train_stream_memory.py compare with, and what small
    tools (ablation variants, tests) use.

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


# ---- streaming ---------------------------------------------------------------------------------

def rank_block(n: int, rank: int, world: int) -> tuple[int, int]:
    """The contiguous block [lo, hi) of n samples that rank `rank` of `world` owns (sizes differ
    by at most one)."""
    return n * rank // world, n * (rank + 1) // world


@dataclass(frozen=True)
class DataFile:
    """One data file of the pinned version (an add action of its Delta log)."""
    uri: str
    rows: int
    min_seq_id: int | None
    max_seq_id: int | None


_READER: ThreadPoolExecutor | None = None


def _reader() -> ThreadPoolExecutor:
    """The read-ahead thread (one per process, shared by the training and held-out streams)."""
    global _READER
    if _READER is None:
        _READER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gold-tokens-read-ahead")
    return _READER


class _Files:
    """What a TokenTable and all its slices share: the pinned version's data files (sorted, with
    row offsets), the row length, and the Parquet footers (rows per row group) of the files read
    so far. Metadata only: a few numbers per file and per row group."""

    def __init__(self, table_path: str, version: int, files: list[DataFile], vocab_size: int | None):
        import pyarrow.fs as pafs
        self.table_path, self.version, self.files, self.vocab_size = table_path, version, files, vocab_size
        self.starts = np.concatenate([[0], np.cumsum([f.rows for f in files])]).tolist()  # row offsets
        self.fs, _ = pafs.FileSystem.from_uri(_as_uri(files[0].uri))  # local, s3://, ... (pyarrow's filesystems)
        self._row_groups: dict[int, list[int]] = {}
        self.row_len = self._first_row_length()

    def path(self, f: int) -> str:
        uri = self.files[f].uri
        return unquote(uri.split("://", 1)[1]) if "://" in uri else uri

    def parquet(self, f: int):
        import pyarrow.parquet as pq
        return pq.ParquetFile(self.path(f), filesystem=self.fs)

    def row_groups(self, f: int) -> list[int]:
        """Row offsets of file f's row groups within the file ([0, n0, n0 + n1, ..., rows])."""
        if f not in self._row_groups:
            meta = self.parquet(f).metadata
            counts = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
            if sum(counts) != self.files[f].rows:
                raise DataError(f"{self.files[f].uri}: {sum(counts)} rows in its Parquet footer, "
                                f"{self.files[f].rows} in the Delta log of {self.table_path}@v{self.version}")
            self._row_groups[f] = np.concatenate([[0], np.cumsum(counts)]).tolist()
        return self._row_groups[f]

    def _first_row_length(self) -> int:
        batch = next(self.parquet(0).iter_batches(batch_size=1, columns=["input_ids"]))
        return len(batch.column(0)[0])

    def read(self, f: int, g: int) -> np.ndarray:
        """Row group g of file f: its rows' tokens as an int32 array (rows, row_len), in seq_id order."""
        table = self.parquet(f).read_row_group(g, columns=READ_COLUMNS)
        ids = table.column("input_ids").combine_chunks()
        lengths = np.diff(ids.offsets.to_numpy())
        if len(lengths) and (lengths != self.row_len).any():
            raise DataError(f"{self.table_path}@v{self.version}: rows of {sorted(set(lengths.tolist()))[:5]} tokens "
                            f"beside rows of {self.row_len} (the trainer streams rows of one length, as the "
                            "tokenize stage writes them: seq_len + 1 tokens)")
        tokens = ids.flatten().to_numpy().reshape(len(lengths), self.row_len)
        seq_ids = table.column("seq_id").to_numpy()
        if len(seq_ids) > 1 and (np.diff(seq_ids) <= 0).any():
            tokens = tokens[np.argsort(seq_ids, kind="stable")]
        if self.vocab_size is not None and tokens.size and int(tokens.max()) >= self.vocab_size:
            raise DataError(f"token id {int(tokens.max())} >= model vocab {self.vocab_size} in "
                            f"{self.files[f].uri}: tokenizer and gold/tokens do not match")
        return tokens


class TokenTable:
    """The samples of gold/tokens at a pinned version, or a contiguous range of them, read per
    Parquet row group with a bounded read-ahead.

        table = TokenTable.open(path, version, read_ahead=1)   # metadata only
        samples = table.windows(seq_len)                       # rows cut into windows of seq_len + 1
        train, heldout = samples[:n - k], samples[n - k:]      # views: nothing read
        train[i]                                               # one sample, int64 tokens

    Indexing a sample loads its row group (and the next `read_ahead` ones of this view, wrapping
    at its end, on the read-ahead thread); every other row group is dropped, so a view holds at
    most 1 + read_ahead row groups. A view is read front to back (what TokenStream and the
    held-out loop do); jumping around works but reads a row group per jump. `reads` counts the
    row groups a view read ((file uri, row group) -> times), `max_resident` the most it held.
    """

    def __init__(self, files: _Files, lo: int, hi: int, per_row: int, width: int, read_ahead: int):
        self._files, self.lo, self.hi = files, lo, hi
        self.per_row, self.sample_len, self.read_ahead = per_row, width, read_ahead
        self._held: dict[tuple[int, int], Future] = {}
        self._current: tuple[int, int, np.ndarray | None] = (0, 0, None)  # rows [first, end) of the last row group used
        self.reads: Counter = Counter()
        self.max_resident = 0

    @classmethod
    def open(cls, table_path: str | Path, version: int, *, read_ahead: int = 1,
             vocab_size: int | None = None) -> "TokenTable":
        """The table's samples (one per stored row) from the Delta log of `version`: reads the log,
        one footer and one row; no tokens beyond that."""
        import pyarrow as pa
        from deltalake import DeltaTable
        try:
            dt = DeltaTable(str(table_path), version=int(version))
        except Exception as err:
            raise DataError(f"cannot open {table_path} at version {version}: {err}") from None
        _refuse_what_plain_parquet_would_misread(dt, table_path, version)
        actions = pa.table(dt.get_add_actions(flatten=True)).to_pydict()
        uris = dt.file_uris()
        if len(uris) != len(actions["path"]):
            raise DataError(f"{table_path}@v{version}: {len(uris)} file URIs for {len(actions['path'])} add actions")
        none = [None] * len(uris)
        files = []
        for uri, path, rows, lo, hi in zip(uris, actions["path"], actions.get("num_records", none),
                                           actions.get("min.seq_id", none), actions.get("max.seq_id", none)):
            if not unquote(uri).endswith(unquote(path)):
                raise DataError(f"{table_path}@v{version}: file URI {uri} does not match its add action {path}")
            if rows is None or lo is None or hi is None:  # a writer that kept no statistics: ask the footer
                rows, lo, hi = _footer_facts(uri)
            if rows:
                files.append(DataFile(uri, int(rows), lo, hi))
        if not files:
            raise DataError(f"{table_path} (version {version}) has no sequences")
        files.sort(key=lambda f: (f.min_seq_id is None, f.min_seq_id, f.uri))
        if any(a.max_seq_id is None or b.min_seq_id is None or a.max_seq_id >= b.min_seq_id
               for a, b in zip(files, files[1:])):
            log.warning("%s@v%s: data files overlap in seq_id; the stream reads them in order of their "
                        "smallest seq_id (rows within a row group by seq_id), which is not seq_id order",
                        table_path, version)
        shared = _Files(str(table_path), int(version), files, vocab_size)
        table = cls(shared, 0, shared.starts[-1], 1, shared.row_len, int(read_ahead))
        log.info("%s@v%s: %d rows of %d tokens in %d data files", table_path, version, len(table),
                 shared.row_len, len(files))
        return table

    # ---- shape ----
    @property
    def row_len(self) -> int:
        """Tokens per stored row."""
        return self._files.row_len

    def windows(self, seq_len: int) -> "TokenTable":
        """The whole table's rows cut into windows of seq_len + 1 tokens, as window() does (a row
        no longer than that stays whole)."""
        w = int(seq_len) + 1
        per_row, width = (1, self.row_len) if self.row_len <= w else (self.row_len // w, w)
        return TokenTable(self._files, 0, self._files.starts[-1] * per_row, per_row, width, self.read_ahead)

    def __len__(self) -> int:
        return self.hi - self.lo

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1:
                raise ValueError("a TokenTable slice is contiguous")
            return TokenTable(self._files, self.lo + start, self.lo + max(start, stop), self.per_row,
                              self.sample_len, self.read_ahead)
        i = int(i) + (len(self) if i < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(f"sample {i} of {len(self)}")
        row, window = divmod(self.lo + i, self.per_row)
        first, end, tokens = self._current
        if not first <= row < end:  # another row group: load it (and read ahead)
            self._current = (0, 0, None)  # drop the last one first: at most 1 + read_ahead held
            unit, offset = self._locate(row)
            tokens = self._row_group(unit)
            first = row - offset
            self._current = (first, first + len(tokens), tokens)
        return tokens[row - first, window * self.sample_len:(window + 1) * self.sample_len].astype(np.int64)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # ---- row groups ----
    def _locate(self, row: int) -> tuple[tuple[int, int], int]:
        """(file, row group) holding table row `row`, and the row's offset in it."""
        files = self._files
        f = bisect.bisect_right(files.starts, row) - 1
        in_file = row - files.starts[f]
        groups = files.row_groups(f)
        g = bisect.bisect_right(groups, in_file) - 1
        return (f, g), in_file - groups[g]

    def _following(self, unit: tuple[int, int]) -> tuple[int, int]:
        """The row group this view reads after `unit` (its first one after its last)."""
        last, _ = self._locate((self.hi - 1) // self.per_row)
        if unit == last:
            return self._locate(self.lo // self.per_row)[0]
        f, g = unit
        return (f, g + 1) if g + 2 < len(self._files.row_groups(f)) else (f + 1, 0)

    def _row_group(self, unit: tuple[int, int]) -> np.ndarray:
        wanted = [unit]
        for _ in range(self.read_ahead):
            wanted.append(self._following(wanted[-1]))
        for key in [k for k in self._held if k not in wanted]:
            del self._held[key]  # a read still running finishes and is dropped
        for key in dict.fromkeys(wanted[1:]):
            if key not in self._held:
                self._held[key] = _reader().submit(self._read, key)
        if unit not in self._held:
            done: Future = Future()
            done.set_result(self._read(unit))
            self._held[unit] = done
        self.max_resident = max(self.max_resident, len(self._held))
        return self._held[unit].result()

    def _read(self, unit: tuple[int, int]) -> np.ndarray:
        self.reads[(self._files.files[unit[0]].uri, unit[1])] += 1
        return self._files.read(*unit)


def _footer_facts(uri: str) -> tuple[int, int | None, int | None]:
    """Rows and the smallest / largest seq_id of a data file, from its Parquet footer."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq
    fs, path = pafs.FileSystem.from_uri(_as_uri(uri))
    meta = pq.ParquetFile(path, filesystem=fs).metadata
    column = meta.schema.names.index("seq_id")
    lows, highs = [], []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(column).statistics
        if stats is None or not stats.has_min_max:
            return meta.num_rows, None, None
        lows.append(stats.min)
        highs.append(stats.max)
    return meta.num_rows, (min(lows) if lows else None), (max(highs) if highs else None)


def _as_uri(uri_or_path: str) -> str:
    """A URI pyarrow's filesystems open: a local path as file://, Hadoop's s3a:// as s3://."""
    from jobs.core.storage import Location
    if "://" in uri_or_path and not uri_or_path.startswith("s3a://"):
        return uri_or_path  # as delta-rs gives it (file:// URIs percent-encoded: not re-parsed)
    return Location(uri_or_path).arrow_uri


def _refuse_what_plain_parquet_would_misread(dt, table_path, version) -> None:
    """Reading the version's data files directly is exact unless the log says more about them
    than the files do: rows marked deleted (deletion vectors) or columns renamed (column mapping)."""
    meta = dt.metadata()
    mode = str(meta.configuration.get("delta.columnMapping.mode", "none")).lower()
    if mode != "none":
        raise DataError(f"{table_path}@v{version} uses column mapping ({mode}); the trainer reads the "
                        "tokens' Parquet files by column name and does not support it")
    if set(meta.partition_columns) & set(READ_COLUMNS):
        raise DataError(f"{table_path}@v{version} is partitioned by {meta.partition_columns}: seq_id and "
                        "input_ids must be stored in the data files")
    features = set(dt.protocol().reader_features or [])
    if "deletionVectors" in features:
        import pyarrow as pa
        actions = pa.table(dt.get_add_actions(flatten=True))
        dv = [name for name in actions.column_names if name.lower().startswith("deletionvector")]
        if not dv or any(actions.column(name).null_count < len(actions) for name in dv):
            raise DataError(f"{table_path}@v{version} may have rows marked deleted by deletion vectors, "
                            "which reading its data files would bring back: purge them first "
                            "(REORG TABLE ... APPLY (PURGE), as the opt-out stage does)")


# ---- the sample stream -------------------------------------------------------------------------

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


SHARDING = "rank-blocks"  # recorded in the data state: how samples are assigned to ranks


class TokenStream:
    """Rank-local, resumable stream of training samples (numpy arrays, FIM applied).

    `samples`: all ranks' training samples, a TokenTable (streamed) or an array of rows (in
    memory, same definition); this rank keeps only its block of them (rank_block)."""

    def __init__(self, samples, tokenizer=None, *, rank: int = 0, world: int = 1, seed: int = 0,
                 fim_rate: float = 0.0, fim_spm_rate: float = 0.5, fim_split_sample: str | None = None,
                 fragment_fim_rate: float = 0.5):
        if len(samples) == 0:
            raise DataError("no training sequences (is the held-out fraction too large?)")
        lo, hi = rank_block(len(samples), rank, world)
        if hi == lo:
            raise DataError(f"{len(samples)} training sequences for {world} ranks: rank {rank} gets none")
        self.samples = samples[lo:hi]  # this rank's block (a view: nothing read yet)
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
        seq = np.asarray(self.samples[local % len(self.samples)], dtype=np.int64)
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
        return {"position": self.position, "world": self.world, "seed": self.seed, "sharding": SHARDING}

    def load_state_dict(self, state: dict) -> None:
        if int(state["world"]) != self.world:
            raise DataError(f"checkpoint was written with {state['world']} data-parallel ranks, "
                            f"this run has {self.world}: the sample order would change")
        if self.world > 1 and state.get("sharding") != SHARDING:
            raise DataError(f"checkpoint was written by the in-memory reader, whose {self.world} ranks read "
                            "interleaved samples; this one gives each rank a contiguous block: resuming would "
                            "change the sample order (train into a new train.output_dir)")
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
    (row by row, in order; a row's remainder shorter than a window is dropped). In memory; the
    trainer's TokenTable.windows() gives the same windows while streaming."""
    w = int(seq_len) + 1
    if sequences.shape[1] <= w:
        return sequences
    k = sequences.shape[1] // w
    out = sequences[:, :k * w].reshape(-1, w)
    return out[out[:, 1] >= 0]  # windows that are padding only (nothing to predict) go


def heldout_batches(samples, batch_size: int, rank: int = 0, world: int = 1, max_batches: int = 0):
    """Held-out micro-batches for this rank, from its block of `samples` (a TokenTable or an
    array; no FIM: plain next-token loss)."""
    lo, hi = rank_block(len(samples), rank, world)
    mine = samples[lo:hi]
    for count, i in enumerate(range(0, len(mine), batch_size)):
        if max_batches and count >= max_batches:
            return
        yield collate([np.asarray(mine[j], dtype=np.int64) for j in range(i, min(i + batch_size, len(mine)))])


def batch_digest(batch: dict[str, torch.Tensor]) -> str:
    """Short fingerprint of a batch's tokens (logged per step, compared by the resume test)."""
    return hashlib.sha1(batch["input_ids"].numpy().tobytes()).hexdigest()[:16]
