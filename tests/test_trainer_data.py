"""gold/tokens loader: pinned Delta version, order by seq_id, sharding, resumable position."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from test_trainer_support import trainer_lake, write_tokens_table  # noqa: F401  (fixture)
from trainer.data import TokenStream, batch_digest, latest_version, load_tokenizer, read_sequences, split_heldout


def test_reads_pinned_version_in_seq_id_order(tmp_path):
    path = tmp_path / "gold" / "tokens"
    seqs = np.arange(40, dtype=np.int32).reshape(10, 4)
    order = np.array([3, 1, 4, 0, 9, 2, 8, 7, 6, 5])
    v0 = write_tokens_table(path, seqs, seq_id_order=order)
    v1 = write_tokens_table(path, seqs[:3] + 100)  # overwrite: version 1 has other rows
    assert (v0, v1) == (0, 1) and latest_version(path) == 1
    got = read_sequences(path, v0)
    assert got.shape == (10, 4)
    assert (got == seqs[np.argsort(order)]).all()  # ordered by seq_id, not by file order
    assert (read_sequences(path, 1) == seqs[:3] + 100).all()  # the overwrite's removed files are not read


def test_variable_length_rows_are_padded_and_masked(tmp_path):
    from trainer.data import collate
    path = tmp_path / "t"
    import pyarrow as pa
    from deltalake import write_deltalake
    write_deltalake(str(path), pa.table({"seq_id": pa.array([0, 1], pa.int64()),
                                         "input_ids": pa.array([[5, 6, 7], [8]], pa.list_(pa.int32())),
                                         "run_id": ["r", "r"]}))
    got = read_sequences(path, 0)
    assert got.tolist() == [[5, 6, 7], [8, -1, -1]]
    b = collate(list(got))  # inputs = first L-1 tokens, labels = next tokens (Megatron's split)
    assert b["input_ids"].tolist() == [[5, 6], [8, 0]]
    assert b["labels"].tolist() == [[6, 7], [-100, -100]]
    assert b["attention_mask"].tolist() == [[1, 1], [1, 0]]


def test_window_cuts_long_rows_into_model_sized_sequences():
    from trainer.data import window
    rows = np.arange(2 * 9).reshape(2, 9)
    rows[1, 5:] = -1  # padded tail
    got = window(rows, 3)  # windows of 4 tokens; each row gives 2, remainder dropped
    assert got.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [9, 10, 11, 12]]  # [13, -1, -1, -1] predicts nothing
    assert (window(rows, 8) == rows).all()


def test_heldout_split():
    assert split_heldout(100, 0.05) == 5
    assert split_heldout(1, 0.5) == 0
    assert split_heldout(3, 0.01) == 1
    assert split_heldout(10, 0.0) == 0


@pytest.fixture(scope="module")
def lake_data(trainer_lake):  # noqa: F811
    lake = Path(trainer_lake["lake"])
    return read_sequences(lake / "gold" / "tokens", trainer_lake["version"]), load_tokenizer(lake / "tokenizer")


def test_stream_is_deterministic_and_shards_disjointly(lake_data):
    seqs, tok = lake_data
    kw = dict(seed=3, fim_rate=0.5)
    one = TokenStream(seqs, tok, rank=0, world=1, **kw)
    r0 = TokenStream(seqs, tok, rank=0, world=2, **kw)
    r1 = TokenStream(seqs, tok, rank=1, world=2, **kw)
    single = [one.sample(i) for i in range(12)]
    assert all((a == b).all() for a, b in zip(single, [TokenStream(seqs, tok, **kw).sample(i) for i in range(12)]))
    # ranks own contiguous blocks of the sequences: rank0 the first half, rank1 the second
    half = len(seqs) // 2
    plain0, plain1 = (TokenStream(seqs, tok, rank=r, world=2, seed=3) for r in (0, 1))
    for u in range(6):
        assert (plain0.sample(u) == seqs[u]).all()
        assert (plain1.sample(u) == seqs[half + u]).all()
    assert (plain0.sample(half) == seqs[0]).all()  # each rank's epoch wraps within its block
    # FIM draws are seeded by the global sample index t = u * world + rank
    assert (r0.sample(2) == TokenStream(seqs[:half], tok, rank=0, world=2, **kw).sample(2)).all()
    assert any((r1.sample(u) != plain1.sample(u)).any() for u in range(6))
    # FIM makes a difference, and a different seed gives other transformations
    plain = TokenStream(seqs, tok, seed=3, fim_rate=0.0)
    assert any((plain.sample(i) != single[i]).any() for i in range(12))
    other = TokenStream(seqs, tok, seed=4, fim_rate=0.5)
    assert any((other.sample(i) != single[i]).any() for i in range(12))


def test_stream_resumes_from_position(lake_data):
    seqs, tok = lake_data
    a = TokenStream(seqs, tok, seed=1, fim_rate=0.5)
    full = [batch_digest(a.next_batch(3)) for _ in range(6)]
    b = TokenStream(seqs, tok, seed=1, fim_rate=0.5)
    first = [batch_digest(b.next_batch(3)) for _ in range(2)]
    state = b.state_dict()
    c = TokenStream(seqs, tok, seed=1, fim_rate=0.5)
    c.load_state_dict(state)
    rest = [batch_digest(c.next_batch(3)) for _ in range(4)]
    assert first + rest == full
    with pytest.raises(Exception):
        TokenStream(seqs, tok, rank=0, world=2, seed=1).load_state_dict(state)


def test_stream_wraps_around_epochs(lake_data):
    seqs, tok = lake_data
    s = TokenStream(seqs[:5], tok, seed=0, fim_rate=0.0)
    assert (s.sample(5) == seqs[0]).all() and (s.sample(7) == seqs[2]).all()
