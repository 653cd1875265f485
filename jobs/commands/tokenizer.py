"""`codemill tokenizer train`: train the byte-level BPE on gold/training_docs (docs/recipe.md §9)."""
from __future__ import annotations

from jobs.commands.common import add_lake_options


def register(subparsers) -> None:
    p = subparsers.add_parser("tokenizer", help="train the byte-level BPE tokenizer on gold/training_docs")
    sub = p.add_subparsers(dest="tokenizer_command", metavar="COMMAND")
    sub.required = True
    train = sub.add_parser("train", help="train and save it under <lake>/tokenizer (transformers format)")
    add_lake_options(train, run_id_help=None)
    train.add_argument("--vocab-size", type=int, help="vocabulary size incl. special tokens (default: tokenizer.vocab_size)")
    train.add_argument("--min-frequency", type=int, help="minimum pair frequency to merge (default: tokenizer.min_frequency)")
    train.add_argument("--sample-bytes", type=int,
                       help="train on a seeded sample of about this many bytes of text, 0 = every document "
                            "(default: tokenizer.train_sample_bytes)")
    train.add_argument("--version", type=int, help="gold/training_docs Delta version to train on (default: latest)")
    train.add_argument("--out", help="output folder (default: <tokenizer.dir> in the lake's workspace: the lake folder itself for a local lake)")
    train.set_defaults(handler=handle_train)


def handle_train(args) -> int:
    from pathlib import Path

    from jobs.core.config import load_config
    from jobs.core.errors import UserError
    from jobs.core.lake import lake_root

    overrides = {k: v for k, v in (("vocab_size", args.vocab_size), ("min_frequency", args.min_frequency),
                                   ("train_sample_bytes", args.sample_bytes)) if v is not None}
    cfg = load_config(args.config, {"tokenizer": overrides} if overrides else None).tokenizer
    from jobs.core.storage import workspace_for
    root = lake_root(args.lake)
    table = root / "gold" / "training_docs"
    if not (table / "_delta_log").is_dir():
        raise UserError(f"gold/training_docs not found in {root}: run the pipeline up to the format stage first")
    vocab, min_freq = cfg.vocab_size, cfg.min_frequency
    out = Path(args.out) if args.out else workspace_for(root) / cfg.dir

    from trainer import tokenizer as trainer_tok
    try:
        info = trainer_tok.train_from_delta(table, out, vocab_size=vocab, min_frequency=min_freq, version=args.version,
                                          sample_bytes=cfg.train_sample_bytes)
    except ValueError as err:
        raise UserError(str(err)) from None
    print(f"tokenizer saved in {out}")
    print(f"  trained on gold/training_docs version {info['delta_version']} ({info['documents']} documents, "
          f"{info['text_bytes']:,} of {info['table_text_bytes']:,} bytes of text)")
    print(f"  vocabulary {info['vocab_size']} (requested {vocab}; BPE stops earlier when the corpus has no more pairs)")
    return 0
