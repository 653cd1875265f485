"""The byte-level BPE tokenizer (docs/recipe.md §9), trained on gold/training_docs.

* Hugging Face `tokenizers` BPE; pre-tokenizer `Digits(individual_digits=True)` then
  `ByteLevel(add_prefix_space=False, use_regex=True)`: every digit is its own token and no
  prefix space is added; byte-level decoding gives back the exact text.
* Vocabulary size from config (StarCoder: 49,152, special tokens included). On a small
  corpus BPE runs out of pairs to merge earlier and the vocabulary is simply smaller.
* Special tokens reserved: docs/recipe.md §7.2 at ids 0–18 in that order (`<|endoftext|>` is BOS,
  EOS and UNK), then docs/recipe.md §7.3 (`<repo_name>`, `<file_sep>`, …, `<NAME>`, `<EMAIL>`, …).
* Saved with `PreTrainedTokenizerFast.save_pretrained` plus `codemill_tokenizer.json`
  recording the gold/training_docs Delta version it was trained on.

Training docs are streamed from the Delta table in Arrow batches through `deltalake`
(never collected at once). This module does not import jobs/ (the trainer reads gold
tables by pinned Delta version).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from udfs.formatting import EOD, special_tokens

PROVENANCE_FILE = "codemill_tokenizer.json"
TOKENIZER_FILE = "tokenizer.json"


def build_tokenizer():
    """An untrained tokenizer with codemill's pipeline and the special tokens registered."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    # Registered before training so that the trainer never merges across a special token
    # in the training text; BpeTrainer then gives them ids 0.. in list order.
    tok.add_special_tokens(special_tokens())
    return tok


def train_bpe(texts: Iterable[str], vocab_size: int = 49152, min_frequency: int = 2, length: int | None = None):
    """Train the BPE on an iterator of documents; returns a `tokenizers.Tokenizer`."""
    from tokenizers import pre_tokenizers, trainers

    tok = build_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=int(vocab_size),
        min_frequency=int(min_frequency),
        special_tokens=special_tokens(),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=length)
    check_special_ids(tok)
    return tok


def check_special_ids(tok) -> None:
    for expected_id, token in enumerate(special_tokens()):
        got = tok.token_to_id(token)
        if got != expected_id:
            raise RuntimeError(f"special token {token} has id {got}, expected {expected_id}")


def to_transformers(tok):
    from transformers import PreTrainedTokenizerFast

    specials = special_tokens()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=EOD, eos_token=EOD, unk_token=EOD,
        additional_special_tokens=[t for t in specials if t != EOD],
        clean_up_tokenization_spaces=False,
        model_max_length=1_000_000_000,
    )
    return fast


def save(tok, out_dir: str | Path, provenance: dict) -> Path:
    """Save in transformers format plus the provenance JSON; returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    to_transformers(tok).save_pretrained(str(out))
    info = dict(provenance)
    info.update(vocab_size=tok.get_vocab_size(with_added_tokens=True), special_tokens=special_tokens(),
                eod_token=EOD, eod_id=tok.token_to_id(EOD))
    (out / PROVENANCE_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return out


def load_fast(tokenizer_dir: str | Path):
    """The raw `tokenizers.Tokenizer` (fast path used by the tokenize stage's workers)."""
    from tokenizers import Tokenizer

    path = Path(tokenizer_dir) / TOKENIZER_FILE
    if not path.exists():
        raise FileNotFoundError(f"no {TOKENIZER_FILE} in {tokenizer_dir}")
    return Tokenizer.from_file(str(path))


def load_pretrained(tokenizer_dir: str | Path):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(str(tokenizer_dir))


def provenance(tokenizer_dir: str | Path) -> dict | None:
    path = Path(tokenizer_dir) / PROVENANCE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def iter_delta_texts(table_path: str | Path, version: int | None = None, column: str = "text") -> Iterator[str]:
    """Stream one string column of a Delta table batch by batch (pinned version if given)."""
    from jobs.core.delta_read import query_batches

    for batch in query_batches(str(table_path), f'SELECT "{column}" FROM t', version):
        for value in batch.column(0).to_pylist():
            if value:
                yield value


def iter_delta_docs(table_path: str | Path, version: int | None = None) -> Iterator[tuple[str, str]]:
    """Stream (doc_id, text) of gold/training_docs batch by batch, non-empty texts only."""
    from jobs.core.delta_read import query_batches

    for batch in query_batches(str(table_path), 'SELECT "doc_id", "text" FROM t', version):
        for doc_id, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
            if text:
                yield doc_id, text


def _text_bytes(table_path: str | Path, version: int) -> int:
    from jobs.core.delta_read import query

    value = query(str(table_path), 'SELECT sum(octet_length("text")) AS n FROM t', version).column(0)[0].as_py()
    return int(value or 0)


def in_sample(doc_id: str, fraction: float) -> bool:
    """Whether a document belongs to the seeded training sample of `fraction` of documents."""
    import zlib

    return zlib.crc32(doc_id.encode("utf-8")) < fraction * 2**32


def delta_version(table_path: str | Path) -> int:
    from deltalake import DeltaTable

    return DeltaTable(str(table_path)).version()


def train_from_delta(table_path: str | Path, out_dir: str | Path, vocab_size: int = 49152,
                     min_frequency: int = 2, version: int | None = None, sample_bytes: int = 0) -> dict:
    """Train on the `text` column of gold/training_docs at a pinned version and save.
    `sample_bytes` > 0 trains on a seeded sample of about that many bytes of text (documents
    chosen by a hash of their doc_id, so the same table version gives the same sample); 0
    trains on every document. Returns the provenance written."""
    pinned = delta_version(table_path) if version is None else int(version)
    total = _text_bytes(table_path, pinned)
    fraction = 1.0 if sample_bytes <= 0 or total <= sample_bytes else sample_bytes / total
    count = used = 0

    def texts():
        nonlocal count, used
        for doc_id, text in iter_delta_docs(table_path, pinned):
            if fraction < 1.0 and not in_sample(doc_id, fraction):
                continue
            count += 1
            used += len(text.encode("utf-8"))
            yield text

    tok = train_bpe(texts(), vocab_size=vocab_size, min_frequency=min_frequency)
    if count == 0:
        raise ValueError(f"{table_path} (version {pinned}) has no training documents")
    info = {"trained_on": str(table_path), "table": "gold/training_docs", "delta_version": pinned,
            "documents": count, "text_bytes": used, "table_text_bytes": total,
            "sample_bytes": int(sample_bytes), "requested_vocab_size": int(vocab_size),
            "min_frequency": int(min_frequency)}
    save(tok, out_dir, info)
    return provenance(out_dir)
