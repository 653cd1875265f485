"""Builders shared by the trainer tests: a tiny byte-level BPE tokenizer with the StarCoder
special tokens (docs/recipe.md §7.2, §7.3, §9) and a small packed `gold/tokens` Delta table written
with `deltalake` (no Spark). Imported by tests/test_trainer_*.py."""
from __future__ import annotations

import inspect
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

# docs/recipe.md §7.2: the 19 StarCoder tokens, ids 0-18 in this order; then StarCoder2's <file_sep>/<repo_name> (§7.3)
SPECIAL_TOKENS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>",
                  "<gh_stars>", "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>",
                  "<jupyter_text>", "<jupyter_code>", "<jupyter_output>", "<empty_output>", "<commit_before>",
                  "<commit_msg>", "<commit_after>", "<reponame>", "<file_sep>", "<repo_name>"]


def corpus_documents() -> list[str]:
    """Real Python source (functions of the standard library), deterministic for a Python version."""
    import difflib
    import fnmatch
    import json.encoder
    import shlex
    import textwrap as tw
    docs = []
    for mod in (tw, shlex, json.encoder, fnmatch, difflib):
        for name, obj in sorted(vars(mod).items()):
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == mod.__name__:
                try:
                    docs.append(textwrap.dedent(inspect.getsource(obj)))
                except (OSError, TypeError):
                    pass
    return docs


def build_tokenizer(out_dir: Path, docs: list[str], vocab_size: int = 512) -> Path:
    """Byte-level BPE with digit splitting (docs/recipe.md §9), saved in transformers format."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(docs, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", additional_special_tokens=SPECIAL_TOKENS[1:])
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    return out_dir


def pack(token_docs: list[list[int]], eod: int, seq_len: int) -> np.ndarray:
    """Documents + EOD concatenated and cut into sequences of seq_len tokens (docs/recipe.md §7.2)."""
    flat = np.concatenate([np.asarray(d + [eod], dtype=np.int32) for d in token_docs])
    n = len(flat) // seq_len
    return flat[:n * seq_len].reshape(n, seq_len)


def write_tokens_table(table_path: Path, sequences: np.ndarray, run_id: str = "test", mode: str = "overwrite",
                       seq_id_order: np.ndarray | None = None) -> int:
    """Write gold/tokens (schemas/tables.py TOKENS) with deltalake; returns the new version.
    Under <lake>/gold/tokens the version is also published (ops/published), as a passed
    tokenize gate would: the trainer reads the published version (jobs/core/publish.py)."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake
    ids = np.arange(len(sequences), dtype=np.int64) if seq_id_order is None else seq_id_order
    schema = pa.schema([pa.field("seq_id", pa.int64(), nullable=False),
                        pa.field("input_ids", pa.list_(pa.field("element", pa.int32(), nullable=False)),
                                 nullable=False),
                        pa.field("doc_ids", pa.list_(pa.field("element", pa.string(), nullable=False)),
                                 nullable=False),
                        pa.field("run_id", pa.string(), nullable=False)])
    table = pa.table({"seq_id": pa.array(ids, pa.int64()),
                      "input_ids": pa.array([list(map(int, s)) for s in sequences], schema.field("input_ids").type),
                      "doc_ids": pa.array([[f"doc-{i}"] for i in ids], schema.field("doc_ids").type),
                      "run_id": pa.array([run_id] * len(sequences), pa.string())}, schema=schema)
    write_deltalake(str(table_path), table, mode=mode)
    version = DeltaTable(str(table_path)).version()
    if Path(table_path).parts[-2:] == ("gold", "tokens"):
        from jobs.core.publish import publish
        publish(Path(table_path).parents[1], {"gold/tokens": version}, run_id, "tokenize", "test fixture")
    return version


def build_lake(lake: Path, seq_len: int = 128, vocab_size: int = 512) -> dict:
    """A lake with tokenizer/ and gold/tokens; returns facts about it."""
    from transformers import PreTrainedTokenizerFast
    docs = corpus_documents()
    build_tokenizer(lake / "tokenizer", docs, vocab_size)
    tok = PreTrainedTokenizerFast.from_pretrained(str(lake / "tokenizer"))
    eod = tok.convert_tokens_to_ids("<|endoftext|>")
    token_docs = [tok(d, add_special_tokens=False)["input_ids"] for d in docs]
    seqs = pack(token_docs, eod, seq_len)
    version = write_tokens_table(lake / "gold" / "tokens", seqs)
    info = {"lake": str(lake), "version": version, "n_sequences": len(seqs), "seq_len": seq_len,
            "vocab": len(tok), "n_docs": len(docs)}
    (lake / "lake_info.json").write_text(json.dumps(info))
    return info


@pytest.fixture(scope="session")
def trainer_lake(tmp_path_factory) -> dict:
    """One tiny lake shared by the trainer tests (read-only for them)."""
    return build_lake(tmp_path_factory.mktemp("trainer_lake") / "lake")


def test_support_lake_is_a_delta_table_with_the_tokens_schema(trainer_lake):
    from deltalake import DeltaTable
    dt = DeltaTable(str(Path(trainer_lake["lake"]) / "gold" / "tokens"))
    names = [f.name for f in dt.schema().fields]
    assert names == ["seq_id", "input_ids", "doc_ids", "run_id"]
    assert trainer_lake["n_sequences"] >= 20
