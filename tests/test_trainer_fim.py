"""FIM (docs/recipe.md §8): sentinels, length preservation, reconstruction, determinism, rates."""
from __future__ import annotations

import numpy as np
import pytest

from test_trainer_support import corpus_documents, pack, trainer_lake  # noqa: F401  (fixture)
from trainer.fim import FimTokens, apply_fim, fim_fragment, parse_fim


@pytest.fixture(scope="module")
def tok(trainer_lake):  # noqa: F811
    from transformers import PreTrainedTokenizerFast
    return PreTrainedTokenizerFast.from_pretrained(trainer_lake["lake"] + "/tokenizer")


@pytest.fixture(scope="module")
def codec(tok):
    backend = tok.backend_tokenizer
    return (lambda ids: backend.decode(list(ids), skip_special_tokens=False),
            lambda s: backend.encode(s, add_special_tokens=False).ids)


def test_special_token_ids_follow_starcoder_order(tok):
    t = FimTokens.from_tokenizer(tok)
    assert (t.eod, t.prefix, t.middle, t.suffix, t.pad) == (0, 1, 2, 3, 4)  # docs/recipe.md §7.2
    assert t.file_sep is not None


def test_fragment_pieces_reconstruct_the_fragment(tok, codec):
    decode, encode = codec
    tokens = FimTokens.from_tokenizer(tok)
    docs = corpus_documents()
    seen = set()
    for i, doc in enumerate(docs[:30]):
        frag = np.asarray(encode(doc))
        rng = np.random.default_rng(i)
        out = fim_fragment(frag, rng, tokens, decode, encode, spm_rate=0.5)
        layout, prefix, middle, suffix = parse_fim(out.tolist(), tokens)
        seen.add(layout)
        # exactly one of each sentinel
        for s in (tokens.prefix, tokens.middle, tokens.suffix):
            assert out.tolist().count(s) == 1
        if layout == "PSM":
            text = decode(prefix) + decode(middle) + decode(suffix)
        else:  # SPM: <pre><suf> S <mid> P M
            text = decode(prefix) + decode(suffix)  # parse_fim puts P+M in the "prefix" slot
        assert text == decode(frag)
    assert seen == {"PSM", "SPM"}


def test_spm_layout_order(tok, codec):
    decode, encode = codec
    tokens = FimTokens.from_tokenizer(tok)
    frag = np.asarray(encode("def add(a, b):\n    return a + b\n"))
    for seed in range(50):
        out = fim_fragment(frag, np.random.default_rng(seed), tokens, decode, encode, spm_rate=1.0).tolist()
        assert out[:2] == [tokens.prefix, tokens.suffix]
        assert out.index(tokens.middle) > 1
        out = fim_fragment(frag, np.random.default_rng(seed), tokens, decode, encode, spm_rate=0.0).tolist()
        assert out[0] == tokens.prefix and out.index(tokens.suffix) < out.index(tokens.middle)


def test_packed_sequence_keeps_length_and_eods_and_is_deterministic(tok, codec):
    decode, encode = codec
    tokens = FimTokens.from_tokenizer(tok)
    docs = [encode(d) for d in corpus_documents()[:40]]
    seqs = pack(docs, tokens.eod, 256)
    n_fim = n_frag = 0
    for i, seq in enumerate(seqs):
        a = apply_fim(seq, np.random.default_rng([7, i]), tokens, decode, encode, fim_rate=0.5)
        b = apply_fim(seq, np.random.default_rng([7, i]), tokens, decode, encode, fim_rate=0.5)
        assert a.shape == seq.shape and (a == b).all()
        frags = [f for f in np.split(seq, np.flatnonzero(seq == tokens.eod)) if f.size]
        n_frag += len(frags)
        n_fim += int((a == tokens.prefix).sum())
        if (a == tokens.eod).sum() < (seq == tokens.eod).sum():
            # only possible when FIM grew the sequence and the tail was truncated
            assert a[-1] != tokens.pad
        if (a == tokens.pad).any():
            pads = np.flatnonzero(a == tokens.pad)
            assert (a[pads[0]:] == tokens.pad).all()  # right padding only
    # about half of the fragments are transformed (docs/recipe.md §8 fim_rate 0.5)
    assert 0.3 < n_fim / n_frag < 0.7, (n_fim, n_frag)


def test_fim_rate_zero_is_identity_and_one_transforms_every_fragment(tok, codec):
    decode, encode = codec
    tokens = FimTokens.from_tokenizer(tok)
    docs = [encode("x = 1\n"), encode("y = 2\n"), encode("def f():\n    pass\n")]
    seq = pack(docs, tokens.eod, sum(len(d) + 1 for d in docs))[0]
    assert (apply_fim(seq, np.random.default_rng(0), tokens, decode, encode, fim_rate=0.0) == seq).all()
    out = apply_fim(seq, np.random.default_rng(0), tokens, decode, encode, fim_rate=1.0)
    n_frags = len([f for f in np.split(seq, np.flatnonzero(seq == tokens.eod)) if f.size > 1])
    assert (out == tokens.prefix).sum() >= n_frags - 1  # the last may be cut by truncation
    assert len(out) == len(seq)


def test_repository_level_fim_transforms_file_pieces_and_keeps_file_seps(tok, codec):
    decode, encode = codec
    tokens = FimTokens.from_tokenizer(tok)
    files = ["def a():\n    return 1\n", "def b():\n    return 2\n", "class C:\n    pass\n"]
    repo = []
    for f in files:
        repo += [tokens.file_sep] + encode(f)
    filler = encode("import os\nprint(os.getcwd())\n" * 5)  # next document in the pack, absorbs truncation
    seq = np.asarray(repo + [tokens.eod] + filler, dtype=np.int64)
    counts = []
    for seed in range(200):
        out = apply_fim(seq, np.random.default_rng(seed), tokens,
                        decode, encode, fim_rate=1.0, split_token=tokens.file_sep, fragment_rate=0.5)
        assert len(out) == len(seq)
        first_doc = out[:np.flatnonzero(out == tokens.eod)[0]]
        assert (first_doc == tokens.file_sep).sum() == 3
        # each FIM'd piece directly follows a <file_sep>
        for pos in np.flatnonzero(first_doc == tokens.prefix):
            assert out[pos - 1] == tokens.file_sep
        counts.append(int((first_doc == tokens.prefix).sum()))
    assert 1.2 < np.mean(counts) < 1.8  # 3 files x fragment rate 0.5
