"""The streaming reader (trainer/data.py TokenTable): gold/tokens read per Parquet row group at
a pinned Delta version gives exactly the samples of the in-memory definition (read_sequences +
window + TokenStream over an array), for every rank of several world sizes; each rank reads only
the row groups of its block; a stream resumed from its counter continues with the same samples;
a view never holds more than 1 + read_ahead row groups."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from test_trainer_support import trainer_lake, write_tokens_table  # noqa: F401  (fixture)
from trainer.data import DataError, TokenStream, TokenTable, batch_digest, heldout_batches, load_tokenizer, \
    rank_block, read_sequences, split_heldout, window

N, L, ROWS_PER_GROUP = 203, 9, 7
FILE_SIZES = [60, 41, 70, 32]  # 4 data files of 9, 6, 10 and 5 row groups (last ones partial)


def _write(path: Path, seqs: np.ndarray, seq_ids: np.ndarray, mode: str) -> None:
    import pyarrow as pa
    from deltalake import WriterProperties, write_deltalake
    values = pa.array(seqs.reshape(-1).astype(np.int32))
    offsets = pa.array(np.arange(0, seqs.size + 1, seqs.shape[1], dtype=np.int32))
    table = pa.table({"seq_id": pa.array(seq_ids, pa.int64()),
                      "input_ids": pa.ListArray.from_arrays(offsets, values),
                      "run_id": pa.array(["t"] * len(seqs))})
    write_deltalake(str(path), table, mode=mode, writer_properties=WriterProperties(max_row_group_size=ROWS_PER_GROUP))


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Version 0: other rows (overwritten, its files stay in the folder). Version 4: N rows of L
    tokens as 4 files appended out of seq_id order, each sorted by seq_id as the tokenize stage
    writes them, rows within one row group shuffled."""
    path = tmp_path_factory.mktemp("stream") / "tokens"
    rng = np.random.default_rng(0)
    seqs = rng.integers(0, 500, size=(N, L))
    _write(path, seqs[:50] + 1000, np.arange(50), "overwrite")
    bounds = np.concatenate([[0], np.cumsum(FILE_SIZES)])
    for i, k in enumerate([2, 0, 3, 1]):
        ids = np.arange(bounds[k], bounds[k + 1])
        if k == 1:
            ids[:ROWS_PER_GROUP] = ids[:ROWS_PER_GROUP][::-1]  # one row group not in seq_id order
        _write(path, seqs[ids], ids, "overwrite" if i == 0 else "append")
    return {"path": path, "version": 4, "seqs": seqs}


def _row_groups_of(path: Path, version: int) -> dict[tuple[str, int], tuple[int, int]]:
    """(file uri, row group) -> (smallest, largest seq_id), from the footers: what each row group holds."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable
    out = {}
    for uri in DeltaTable(str(path), version=version).file_uris():
        meta = pq.ParquetFile(uri).metadata
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(0).statistics
            out[(uri, g)] = (stats.min, stats.max)
    return out


def test_reads_the_pinned_version_in_seq_id_order(table):
    t = TokenTable.open(table["path"], table["version"])
    assert (len(t), t.row_len) == (N, L)
    assert len(_row_groups_of(table["path"], table["version"])) == 30  # several files, several row groups
    ref = read_sequences(table["path"], table["version"])
    assert (ref == table["seqs"]).all()
    assert all((t[i] == ref[i]).all() and t[i].dtype == np.int64 for i in range(N))
    old = TokenTable.open(table["path"], 0)  # the overwritten version: its own rows, not the new ones
    assert len(old) == 50 and (np.stack(list(old)) == table["seqs"][:50] + 1000).all()


@pytest.mark.parametrize("seq_len", [None, 3, 4])
def test_every_rank_gets_the_in_memory_definitions_samples(table, seq_len):
    """TokenStream over the streamed train part == TokenStream over read_sequences' array (the
    same definition in memory), every rank of 1-4, across the epoch wrap."""
    ref = read_sequences(table["path"], table["version"])
    samples = TokenTable.open(table["path"], table["version"], read_ahead=1)
    if seq_len:
        samples, ref = samples.windows(seq_len), window(ref, seq_len)
    assert len(samples) == len(ref) and samples.sample_len == ref.shape[1]
    n_train = len(ref) - split_heldout(len(ref), 0.05)
    for world in (1, 2, 3, 4):
        for rank in range(world):
            streamed = TokenStream(samples[:n_train], rank=rank, world=world, seed=5)
            memory = TokenStream(ref[:n_train], rank=rank, world=world, seed=5)
            n_r = len(memory.samples)
            for u in range(2 * n_r + 3):  # two epochs and a bit
                assert (streamed.sample(u) == memory.sample(u)).all(), (world, rank, u)
            lo, _ = rank_block(n_train, rank, world)
            assert (streamed.sample(n_r + 2) == ref[lo + 2]).all()  # the epoch wraps within the block
    # one rank: the order of the reader before streaming, global sample t = row t mod N
    one = TokenStream(samples[:n_train])
    assert all((one.sample(t) == ref[t % n_train]).all() for t in range(0, 3 * n_train, 7))


def test_fim_samples_equal_in_memory_ones(trainer_lake):  # noqa: F811
    lake = Path(trainer_lake["lake"])
    tok = load_tokenizer(lake / "tokenizer")
    ref = read_sequences(lake / "gold" / "tokens", trainer_lake["version"])
    samples = TokenTable.open(lake / "gold" / "tokens", trainer_lake["version"])
    for rank in range(2):
        kw = dict(rank=rank, world=2, seed=3, fim_rate=0.5)
        a, b = TokenStream(samples, tok, **kw), TokenStream(ref, tok, **kw)
        assert [batch_digest(a.next_batch(3)) for _ in range(5)] == [batch_digest(b.next_batch(3)) for _ in range(5)]


def test_each_rank_reads_only_the_row_groups_of_its_block(table):
    holds = _row_groups_of(table["path"], table["version"])
    samples = TokenTable.open(table["path"], table["version"], read_ahead=2)
    n_heldout = split_heldout(N, 0.1)
    train, heldout = samples[:N - n_heldout], samples[N - n_heldout:]
    for world in (2, 3):
        touched = set()
        for rank in range(world):
            stream = TokenStream(train, rank=rank, world=world)
            for _ in range(3):  # three epochs of its block
                stream.next_batch(len(stream.samples))
            lo, hi = rank_block(N - n_heldout, rank, world)
            mine = {unit for unit, (a, b) in holds.items() if a < hi and b >= lo}
            assert set(stream.samples.reads) == mine, (world, rank)
            touched |= mine
        # blocks are contiguous: all ranks together read the train row groups, once each but at
        # the world - 1 block boundaries; none of the held-out ones
        assert touched == {u for u, (a, _) in holds.items() if a < N - n_heldout}
        assert not any(TokenStream(train, rank=r, world=world).samples.reads for r in range(world))  # lazy
    # evaluation reads the held-out row groups only, each rank its own block of them
    for rank in range(2):
        lo, hi = rank_block(n_heldout, rank, 2)
        view = heldout[lo:hi]
        ref = read_sequences(table["path"], table["version"])[N - n_heldout + lo:N - n_heldout + hi]
        assert (np.stack(list(view)) == ref).all()
        got = np.concatenate([b["input_ids"].numpy() for b in heldout_batches(heldout, 4, rank=rank, world=2)])
        assert (got == ref[:, :-1]).all()
        first, last = N - n_heldout + lo, N - n_heldout + hi - 1
        assert set(view.reads) == {u for u, (a, b) in holds.items() if a <= last and b >= first}


@pytest.mark.parametrize("read_ahead", [0, 1, 3])
def test_memory_is_bounded_by_the_read_ahead(table, read_ahead):
    """However long it streams, a view holds at most 1 + read_ahead row groups, and reading
    front to back reads each row group once per epoch (the read-ahead wraps at the block's end)."""
    samples = TokenTable.open(table["path"], table["version"], read_ahead=read_ahead)
    stream = TokenStream(samples, rank=1, world=2)
    n_r = len(stream.samples)
    for _ in range(3):
        stream.next_batch(n_r)  # three epochs
    view = stream.samples
    assert view.max_resident <= 1 + read_ahead
    assert len(view._held) <= 1 + read_ahead
    assert all(times <= 3 + (1 if read_ahead else 0) for times in view.reads.values()), view.reads
    assert len(view.reads) < 30  # not the whole table


def test_resume_from_the_counter_gives_the_next_samples(table):
    samples = TokenTable.open(table["path"], table["version"])
    for rank, world in ((0, 1), (1, 3)):
        full = TokenStream(samples, rank=rank, world=world, seed=2)
        want = [batch_digest(full.next_batch(5)) for _ in range(30)]  # past the epoch end
        first = TokenStream(samples, rank=rank, world=world, seed=2)
        got = [batch_digest(first.next_batch(5)) for _ in range(12)]
        state = first.state_dict()
        again = TokenStream(TokenTable.open(table["path"], table["version"]), rank=rank, world=world, seed=2)
        again.load_state_dict(state)
        assert got + [batch_digest(again.next_batch(5)) for _ in range(18)] == want


def test_a_checkpoint_of_the_interleaving_reader_resumes_only_with_one_rank(table):
    samples = TokenTable.open(table["path"], table["version"])
    old_state = {"position": 6, "world": 2, "seed": 0}  # what the in-memory reader wrote (no "sharding")
    with pytest.raises(DataError, match="interleaved"):
        TokenStream(samples, rank=0, world=2).load_state_dict(old_state)
    one = TokenStream(samples)
    one.load_state_dict({"position": 6, "world": 1, "seed": 0})  # one rank: the same order then and now
    assert one.position == 6


def test_rows_of_other_lengths_and_unknown_tokens_are_refused(tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake
    write_deltalake(str(tmp_path / "mixed"), pa.table({"seq_id": pa.array([0, 1, 2], pa.int64()),
                                                       "input_ids": pa.array([[1, 2, 3], [4, 5, 6], [7]],
                                                                             pa.list_(pa.int32()))}))
    with pytest.raises(DataError, match="one length"):
        list(TokenTable.open(tmp_path / "mixed", 0))
    write_tokens_table(tmp_path / "t", np.arange(12).reshape(3, 4))
    assert (TokenTable.open(tmp_path / "t", 0, vocab_size=12)[2] == [8, 9, 10, 11]).all()
    with pytest.raises(DataError, match="model vocab"):
        TokenTable.open(tmp_path / "t", 0, vocab_size=11)[2]
