"""Tokenize stage: gold/training_docs → gold/tokens (packed, shuffled training sequences).

    codemill tokenize --lake DIR [--config FILE] [--run-id ID]

* Tokenizer: <lake>/<tokenizer.dir> (default <lake>/tokenizer), trained by
  `codemill tokenizer train`; when it is missing and `tokenize.train_tokenizer_if_missing`
  is true (default) it is trained here first on the same pinned training_docs version.
* Documents are encoded in a vectorized mapInPandas; each Python worker loads the tokenizer
  once from the lake path. Every document ends with exactly one EOD (`<|endoftext|>`).
* Packing (docs/recipe.md §7.2): documents in doc_id order form one stream, cut into sequences of
  `seq_len + 1` tokens across document boundaries. The cut is distributed: each document's
  global start offset is computed from the token counts, each document splits itself at
  sequence boundaries, and sequences are re-assembled per sequence index.
* The last partial sequence is padded with `<fim_pad>` (`tokenize.last_sequence: pad`,
  default, so a small corpus still yields a sequence) or dropped (`drop`); the number of
  padded / dropped tokens is in the run's metrics.
* Sequences are shuffled with a permutation seeded by `tokenize.seed`: seq_id is the
  position the trainer reads them in. Same input + seed ⇒ identical rows.
* Tokens and files per language go to the run's metrics (ops/runs) and are printed.
"""
from __future__ import annotations

from pathlib import Path

from jobs.core.errors import UserError
from jobs.core.stage import Stage, StageContext, StageResult
from udfs import packing

INPUT = "gold/training_docs"
OUTPUT = "gold/tokens"
PAD_TOKEN = "<fim_pad>"
EOD_TOKEN = "<|endoftext|>"

ENCODED_DDL = "doc_id string, language string, n_files long, input_ids array<int>, n_tokens long, eod_removed long"
PIECE_DDL = "seq_idx long, seq_offset long, piece array<int>"


def seq_schema():
    """Packed sequences; input_ids elements are non-null, as gold/tokens declares."""
    from pyspark.sql.types import ArrayType, IntegerType, LongType, StructField, StructType
    return StructType([StructField("seq_id", LongType(), False),
                       StructField("input_ids", ArrayType(IntegerType(), False), False)])

_TOKENIZERS: dict[str, object] = {}


def worker_tokenizer(path: str):
    """The tokenizer, loaded once per Python worker process from the lake (the 'broadcast')."""
    tok = _TOKENIZERS.get(path)
    if tok is None:
        from tokenizers import Tokenizer
        _TOKENIZERS.clear()
        tok = _TOKENIZERS[path] = Tokenizer.from_file(path)
    return tok


def encode_fn(tokenizer_file: str, eod_id: int):
    import numpy as np
    import pandas as pd

    def run(frames):
        tok = worker_tokenizer(tokenizer_file)
        for pdf in frames:
            texts = [t or "" for t in pdf["text"]]
            encodings = tok.encode_batch(texts, add_special_tokens=False) if texts else []
            ids, lengths, removed = [], [], []
            for enc in encodings:
                finished, n_removed = packing.finish_document(np.asarray(enc.ids, dtype=np.int32), eod_id)
                ids.append(finished)
                lengths.append(len(finished))
                removed.append(n_removed)
            yield pd.DataFrame({"doc_id": pdf["doc_id"], "language": pdf["language"], "n_files": pdf["n_files"],
                                "input_ids": ids, "n_tokens": lengths, "eod_removed": removed})
    return run


def split_fn(block: int):
    import pandas as pd

    def run(frames):
        for pdf in frames:
            seq, off, pieces = [], [], []
            for start, ids in zip(pdf["start"], pdf["input_ids"]):
                for s, o, p in packing.split_document(int(start), ids, block):
                    seq.append(s)
                    off.append(o)
                    pieces.append(p)
            yield pd.DataFrame({"seq_idx": seq, "seq_offset": off, "piece": pieces})
    return run


def assemble_fn(block: int, pad_id: int, permutation):
    import pandas as pd

    def run(pdf):
        seq_idx = int(pdf["seq_idx"].iloc[0])
        ids = packing.assemble(list(zip(pdf["seq_offset"], pdf["piece"])))
        ids = packing.pad_to(ids, block, pad_id)
        return pd.DataFrame({"seq_id": [int(permutation.value[seq_idx])], "input_ids": [ids]})
    return run


def tokenizer_dir(ctx: StageContext) -> Path:
    return ctx.lake.root / ctx.config.tokenizer.dir


def ensure_tokenizer(ctx: StageContext, docs_version: int) -> dict:
    """The lake's tokenizer's provenance; trained here on the pinned training_docs version
    when it is missing and tokenize.train_tokenizer_if_missing is on."""
    from trainer import tokenizer as trainer_tok

    tok_dir, cfg = tokenizer_dir(ctx), ctx.config.tokenizer
    if (tok_dir / trainer_tok.TOKENIZER_FILE).exists():
        return trainer_tok.provenance(tok_dir) or {}
    if not ctx.config.tokenize.train_tokenizer_if_missing:
        raise UserError(f"no tokenizer in {tok_dir}: run `codemill tokenizer train --lake {ctx.lake.root}` first")
    ctx.log(f"tokenize: no tokenizer in {tok_dir}; training one (vocab {cfg.vocab_size}) on "
            f"{INPUT} version {docs_version}")
    return trainer_tok.train_from_delta(ctx.lake.path(INPUT), tok_dir, vocab_size=cfg.vocab_size,
                                        min_frequency=cfg.min_frequency, version=docs_version)


def run(ctx: StageContext) -> StageResult:
    import pandas as pd
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from trainer import tokenizer as trainer_tok

    cfg = ctx.config.tokenize
    docs = ctx.read_input(INPUT)
    version = ctx.versions_read[INPUT]
    info = ensure_tokenizer(ctx, version)
    tok_dir = tokenizer_dir(ctx)
    tok = trainer_tok.load_fast(tok_dir)
    eod_id, pad_id = tok.token_to_id(EOD_TOKEN), tok.token_to_id(PAD_TOKEN)
    if eod_id is None or pad_id is None:
        raise UserError(f"tokenizer in {tok_dir} lacks {EOD_TOKEN} or {PAD_TOKEN}")
    block = cfg.seq_len + 1

    docs = docs.select("doc_id", "language", F.size("file_ids").cast("long").alias("n_files"), "text")
    tokenizer_file = str(tok_dir / trainer_tok.TOKENIZER_FILE)
    encoded = docs.mapInPandas(encode_fn(tokenizer_file, eod_id), ENCODED_DDL).persist(StorageLevel.MEMORY_AND_DISK)

    # Global offsets in doc_id order: only (doc_id, n_tokens) travels to the driver.
    lengths = encoded.select("doc_id", "n_tokens").toPandas().sort_values("doc_id", kind="stable")
    lengths["start"] = packing.start_offsets(lengths["n_tokens"].to_numpy())
    total_tokens = int(lengths["n_tokens"].sum()) if len(lengths) else 0
    n_seq, padded, dropped = packing.plan(total_tokens, block, cfg.last_sequence)
    offsets = ctx.spark.createDataFrame(pd.DataFrame({"doc_id": lengths["doc_id"].astype(str),
                                                      "start": lengths["start"].astype("int64")}),
                                        "doc_id string, start long")
    pieces = (encoded.join(F.broadcast(offsets), "doc_id").select("start", "input_ids")
              .mapInPandas(split_fn(block), PIECE_DDL).filter(F.col("seq_idx") < n_seq))
    permutation = ctx.spark.sparkContext.broadcast(packing.shuffle_permutation(n_seq, cfg.seed))
    sequences = (pieces.groupBy("seq_idx").applyInPandas(assemble_fn(block, pad_id, permutation), seq_schema())
                 .withColumn("run_id", F.lit(ctx.run_id)).orderBy("seq_id"))
    written = ctx.lake.overwrite(sequences, OUTPUT)

    per_lang = (encoded.groupBy(F.coalesce("language", F.lit("unknown")).alias("language"))
                .agg(F.sum("n_tokens").alias("tokens"), F.sum("n_files").alias("files"), F.count("*").alias("docs"))
                .orderBy(F.desc("tokens"), "language").collect())
    agg = encoded.agg(F.count("*").alias("docs"), F.sum("eod_removed").alias("eod_removed")).collect()[0]
    encoded.unpersist()
    permutation.unpersist()

    n_docs = int(agg["docs"] or 0)
    metrics = {
        "tokens_total": str(total_tokens), "sequences": str(n_seq), "seq_len": str(cfg.seq_len),
        "sequence_tokens": str(block), "seed": str(cfg.seed), "last_sequence": cfg.last_sequence,
        "padding_tokens": str(padded), "dropped_tokens": str(dropped),
        "eod_removed_inside_docs": str(int(agg["eod_removed"] or 0)),
        "tokenizer_dir": str(tok_dir),
        "tokenizer_trained_on_version": str(info.get("delta_version")),
        "tokenizer_vocab_size": str(tok.get_vocab_size(with_added_tokens=True)),
    }
    if info.get("delta_version") is not None and info.get("delta_version") != version:
        ctx.log(f"tokenize: note: tokenizer was trained on {INPUT} version {info.get('delta_version')}, "
                f"tokenizing version {version}")
    lines = [f"tokens per language ({OUTPUT}: {n_seq} sequences of {block} tokens, {total_tokens} document tokens, "
             f"{padded} padding, {dropped} dropped):", f"  {'language':<24}{'files':>10}{'tokens':>14}"]
    for r in per_lang:
        metrics[f"tokens.{r['language']}"] = str(int(r["tokens"]))
        metrics[f"files.{r['language']}"] = str(int(r["files"]))
        lines.append(f"  {r['language']:<24}{int(r['files']):>10}{int(r['tokens']):>14}")
    ctx.log("\n".join(lines))
    return StageResult(rows_in=n_docs, rows_kept=n_docs, rejected_by_reason={},
                       versions_written={OUTPUT: written}, metrics=metrics)


STAGE = Stage(
    name="tokenize", inputs=(INPUT,), outputs=(OUTPUT,), run=run,
    help="byte-level BPE tokens packed into shuffled fixed-length sequences: gold/training_docs → gold/tokens")
