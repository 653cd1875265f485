"""`codemill eval-pii DATASET`: precision/recall/F1 of PII detection on a labelled JSONL set,
with detect-secrets as a baseline in the same report."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("eval-pii", help="evaluate PII detection on a labelled JSONL set (and detect-secrets)",
                              description=__import__("jobs.tools.pii_eval", fromlist=["x"]).__doc__,
                              formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("dataset", help="labelled JSONL: the template set (tests/data/pii_eval.jsonl) or the real-file "
                                   "set of benchmarks/pii_evalset.py (tests/data/pii_real_sample.jsonl; "
                                   "benchmarks/pii_eval_real.py builds the full splits)")
    p.add_argument("--config", help="YAML file merged over configs/pipeline.yaml (its pii: section is used)")
    p.add_argument("--model-path", help="token-classification model folder (default: pii.model_path of the config)")
    p.add_argument("--no-baseline", action="store_true", help="skip detect-secrets")
    p.add_argument("--ids", metavar="PREFIX", help="only records whose id starts with PREFIX (e.g. hold- for the "
                                                  "held-out templates of the team's set)")
    p.add_argument("--json", help="also write the scores to this JSON file")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    import json
    from pathlib import Path

    from jobs.tools.pii_eval import (as_json, evaluate, evaluate_real, format_real, is_real_set, load_dataset, pii_config,
                               print_evaluation, real_as_json)

    cfg = pii_config(args.config)
    model_path = args.model_path or cfg.get("model_path")
    records = load_dataset(args.dataset, args.ids)
    if is_real_set(records):
        # the real-file set (benchmarks/pii_evalset.py): tables by type, family and look-alike, per split
        scores = evaluate_real(records, model_path, cfg, baseline=not args.no_baseline)
        for split, systems in scores.items():
            recs = [r for r in records if r.get("split", "all") == split]
            print(format_real(systems, recs, f"PII evaluation on {args.dataset}, {split} split: {len(recs)} records"))
            print()
        if args.json:
            Path(args.json).write_text(json.dumps({s: real_as_json(v) for s, v in scores.items()}, indent=2) + "\n")
            print(f"scores written to {args.json}")
        return 0
    result = evaluate(args.dataset, model_path, cfg, baseline=not args.no_baseline, id_prefix=args.ids)
    print_evaluation(result, args.dataset)
    if args.json:
        Path(args.json).write_text(json.dumps(as_json(result), indent=2) + "\n")
        print(f"\nscores written to {args.json}")
    return 0
