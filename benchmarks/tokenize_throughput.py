"""Tokenize-stage throughput (tokens/s) on a generated corpus (default 50,000 documents).

    .venv/bin/python benchmarks/tokenize_throughput.py [--files 50000] [--seq-len 8192] [--vocab 8192]
                                                       [--cores 2] [--lake DIR] [--output FILE.json]

1. Generates `--files` formatted documents (StarCoder file-level format: some with
   <reponame>/<filename>/<gh_stars> prefixes, each ending in <|endoftext|>) of varied
   code-like text in six languages — random identifiers, numbers, strings, comments — and
   writes them straight into gold/training_docs of a fresh lake (deltalake writer).
2. Trains a small byte-level BPE (`--vocab`, on the first `--train-docs` documents) into
   <lake>/tokenizer with trainer/tokenizer.py.
3. Runs the tokenize stage in Spark local[`--cores`] and times it end to end (Delta read,
   encode in pandas UDFs, offsets, distributed packing, shuffle, Delta write of gold/tokens).
Prints documents, tokens, seconds, tokens/s for the stage, and — as a reference for the
Spark overhead — the single-process encode_batch tokens/s of the same tokenizer on the same
documents.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import string
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ("data value result index count total buffer parse render config client server token "
         "user item list map cache queue node tree graph path file stream reader writer error "
         "handler request response session state event model layer batch shape size offset").split()
LANGS = ("python", "javascript", "java", "go", "c", "rust")


def ident(rng: random.Random) -> str:
    parts = rng.sample(WORDS, rng.randint(1, 3))
    style = rng.random()
    if style < 0.5:
        return "_".join(parts)
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def literal(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.4:
        return str(rng.randint(0, 10 ** rng.randint(1, 7)))
    if r < 0.6:
        return f"{rng.random() * 100:.{rng.randint(1, 4)}f}"
    chars = string.ascii_letters + string.digits + " _-./:"
    return '"' + "".join(rng.choice(chars) for _ in range(rng.randint(3, 24))) + '"'


def comment(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))


def function(lang: str, rng: random.Random) -> str:
    name, args = ident(rng), [ident(rng) for _ in range(rng.randint(0, 4))]
    body = []
    for _ in range(rng.randint(2, 12)):
        a, b, v = ident(rng), ident(rng), literal(rng)
        op = rng.choice(["+", "-", "*", "/", "%", "==", "<", ">="])
        if lang == "python":
            body.append(rng.choice([f"    {a} = {b} {op} {v}", f"    if {a} {op} {v}:\n        return {b}",
                                    f"    # {comment(rng)}", f"    for {a} in range({v}):\n        {b}.append({a})"]))
        elif lang in ("javascript", "java", "c", "go", "rust"):
            decl = {"javascript": "let ", "java": "int ", "c": "long ", "go": "", "rust": "let "}[lang]
            assign = ":=" if lang == "go" else "="
            body.append(rng.choice([f"    {decl}{a} {assign} {b} {op} {v};", f"    if ({a} {op} {v}) {{ return {b}; }}",
                                    f"    // {comment(rng)}", f"    {a}.{ident(rng)}({v}, {b});"]))
    if lang == "python":
        return f"def {name}({', '.join(args)}):\n    \"\"\"{comment(rng)}.\"\"\"\n" + "\n".join(body) + "\n"
    head = {"javascript": f"function {name}({', '.join(args)})", "java": f"public static int {name}(int {', int '.join(args) or 'x'})",
            "c": f"long {name}(long {', long '.join(args) or 'x'})", "go": f"func {name}({' int, '.join(args)} int) int",
            "rust": f"fn {name}({': i64, '.join(args)}: i64) -> i64"}[lang]
    return f"/* {comment(rng)} */\n{head} {{\n" + "\n".join(body) + "\n}\n"


def document(i: int, seed: int) -> tuple[str, str, str, str]:
    from udfs import formatting as fmt
    rng = random.Random(seed * 1_000_003 + i)
    lang = LANGS[i % len(LANGS)]
    content = "\n".join(function(lang, rng) for _ in range(rng.randint(1, 8)))
    repo, path = f"owner{i % 997}/{ident(rng)}", f"src/{ident(rng)}.{lang[:2]}"
    text = fmt.file_document(content, repo, path, rng.randint(0, 5000), fmt.seeded_rng(seed, str(i)))
    return f"{i:08d}", repo, lang, text


def write_docs(table: Path, n: int, seed: int, chunk: int = 5000) -> tuple[int, int]:
    import pyarrow as pa
    from deltalake import write_deltalake

    schema = pa.schema([("doc_id", pa.string(), False), ("repo_name", pa.string(), False), ("language", pa.string()),
                        ("file_ids", pa.list_(pa.string()), False), ("text", pa.string(), False),
                        ("format", pa.string(), False), ("run_id", pa.string(), False)])
    total_chars = 0
    for lo in range(0, n, chunk):
        docs = [document(i, seed) for i in range(lo, min(n, lo + chunk))]
        total_chars += sum(len(d[3]) for d in docs)
        batch = pa.table({"doc_id": [d[0] for d in docs], "repo_name": [d[1] for d in docs],
                          "language": [d[2] for d in docs], "file_ids": [[d[0]] for d in docs],
                          "text": [d[3] for d in docs], "format": ["file"] * len(docs),
                          "run_id": ["bench"] * len(docs)}, schema=schema)
        write_deltalake(str(table), batch, mode="append" if lo else "overwrite")
    return n, total_chars


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--seq-len", type=int, default=8192)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--train-docs", type=int, default=5000)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lake", help="lake folder (default: a temporary one, removed afterwards)")
    ap.add_argument("--output", help="write the figures as JSON here")
    args = ap.parse_args()

    lake = Path(args.lake) if args.lake else Path(tempfile.mkdtemp(prefix="codemill-tok-bench-"))
    os.environ.setdefault("CODEMILL_SPARK_MASTER", f"local[{args.cores}]")
    os.environ.setdefault("CODEMILL_DRIVER_MEMORY", "3g")
    try:
        t0 = time.perf_counter()
        n_docs, n_chars = write_docs(lake / "gold" / "training_docs", args.files, args.seed)
        gen_s = time.perf_counter() - t0
        print(f"generated {n_docs} documents, {n_chars / 1e6:.1f} M characters, in {gen_s:.1f}s", flush=True)

        from trainer import tokenizer as trainer_tok
        t0 = time.perf_counter()
        texts = list(trainer_tok.iter_delta_texts(lake / "gold" / "training_docs"))
        tok = trainer_tok.train_bpe(texts[: args.train_docs], vocab_size=args.vocab)
        trainer_tok.save(tok, lake / "tokenizer", {"delta_version": trainer_tok.delta_version(lake / "gold" / "training_docs"),
                                                  "documents": min(args.train_docs, len(texts)), "benchmark": True})
        print(f"trained a {tok.get_vocab_size()}-token BPE on {min(args.train_docs, len(texts))} documents "
              f"in {time.perf_counter() - t0:.1f}s", flush=True)

        # Reference: the same tokenizer in one process, no Spark.
        t0 = time.perf_counter()
        ref_tokens = 0
        for lo in range(0, len(texts), 1000):
            ref_tokens += sum(len(e.ids) for e in tok.encode_batch(texts[lo:lo + 1000], add_special_tokens=False))
        ref_s = time.perf_counter() - t0
        del texts

        from jobs.core.config import load_config
        from jobs.core.lake import Lake
        from jobs.core.session import get_spark
        from jobs.core.stage import StageContext, adopt_tables, execute_stage
        from jobs.stages import STAGES
        from jobs.stages import format as format_stage
        from jobs.stages import tokenize as tokenize_stage
        spark = get_spark("codemill-tokenize-bench", extra_conf={"spark.ui.enabled": "false"})
        config = load_config(None, {"tokenize": {"seq_len": args.seq_len, "seed": args.seed,
                                                 "train_tokenizer_if_missing": False}})
        ctx = StageContext(spark=spark, lake=Lake(spark, lake), config=config, run_id="bench",
                           args=argparse.Namespace(), stages=STAGES)
        # gold/training_docs was written by hand, not by the format stage: record it as format's
        # output in this run, so the tokenize stage reads it by lineage (jobs.core.stage.input_version)
        adopt_tables(ctx, format_stage.STAGE, ("gold/training_docs",))
        t0 = time.perf_counter()
        result = execute_stage(ctx, tokenize_stage.STAGE)
        stage_s = time.perf_counter() - t0
        tokens = int(result.metrics["tokens_total"])
        sequences = int(result.metrics["sequences"])
        figures = {
            "documents": n_docs, "characters": n_chars, "tokens": tokens, "sequences": sequences,
            "seq_len": args.seq_len, "vocab": tok.get_vocab_size(), "cores": args.cores,
            "stage_seconds": round(stage_s, 2), "stage_tokens_per_s": round(tokens / stage_s),
            "stage_docs_per_s": round(n_docs / stage_s, 1),
            "reference_single_process_seconds": round(ref_s, 2),
            "reference_tokens_per_s": round(ref_tokens / ref_s),
            "load_average_1min_at_end": os.getloadavg()[0],
        }
        print(json.dumps(figures, indent=2))
        print(f"tokenize stage: {tokens:,} tokens from {n_docs:,} documents in {stage_s:.1f}s = "
              f"{tokens / stage_s:,.0f} tokens/s on local[{args.cores}] "
              f"(single-process encode_batch: {ref_tokens / ref_s:,.0f} tokens/s; "
              f"1-min load average {os.getloadavg()[0]:.1f})")
        if args.output:
            Path(args.output).write_text(json.dumps(figures, indent=2) + "\n")
        spark.stop()
    finally:
        if not args.lake:
            shutil.rmtree(lake, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
