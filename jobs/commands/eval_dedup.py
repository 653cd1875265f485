"""`codemill eval-dedup`: near-dedup precision/recall/F1 against exact-Jaccard ground truth."""
from __future__ import annotations

import argparse

from jobs.commands.common import add_lake_options


def register(subparsers) -> None:
    from jobs.tools import dedup_eval
    p = subparsers.add_parser("eval-dedup", help="score the dedup stage's near-duplicate clusters against "
                                                 "exact Jaccard (pair precision, recall, F1)",
                              description=dedup_eval.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_lake_options(p)
    p.add_argument("--threshold", type=float, help="Jaccard threshold of the ground truth (default: dedup.threshold)")
    p.add_argument("--max-files", type=int, default=200_000,
                   help="refuse inputs larger than this (the evaluation runs on the driver; default: %(default)s)")
    p.add_argument("--no-ceilings", dest="ceilings", action="store_false",
                   help="skip the two reference clusterings given every true pair (pure Python on the driver: "
                        "~7 s per 45,000 files)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    import json

    from jobs.tools import dedup_eval
    from jobs.commands.common import context
    ctx = context(args, "codemill-eval-dedup")
    result = dedup_eval.evaluate_lake(ctx, args.threshold, args.max_files, args.ceilings)
    print(json.dumps(result, indent=1) if args.json else dedup_eval.format_report(result))
    return 0
