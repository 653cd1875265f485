"""`codemill attribution FILE`: does the snippet in FILE have near-identical code in the lake,
and where? The snippet's MinHash signature is bucketed like the dedup stage's signatures; files
sharing a bucket are scored by estimated Jaccard (share of equal signature values)."""
from __future__ import annotations

import argparse

from jobs.commands.common import add_lake_options, require_path


def register(subparsers) -> None:
    p = subparsers.add_parser("attribution", help="find near-identical code in the gold data (repository, path)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="file holding the code snippet")
    add_lake_options(p)
    p.add_argument("--threshold", type=float, help="minimum estimated Jaccard (default: dedup.threshold)")
    p.add_argument("--limit", type=int, default=20, help="print at most this many matches (default: %(default)s)")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from jobs.stages.dedup import attribute
    from jobs.commands.common import context
    path = require_path(args.file, "file")
    text = path.read_bytes().decode("utf-8", errors="replace")
    ctx = context(args, "codemill-attribution")
    table, threshold, matches = attribute(ctx, text, args.threshold, args.limit)
    if not matches:
        print(f"no near-identical code in {table} (estimated Jaccard ≥ {threshold})")
        return 0
    print(f"{len(matches)} match(es) in {table} (estimated Jaccard ≥ {threshold}):")
    for m in matches:
        print(f"  {m['estimated_jaccard']:.3f}  {m['repo_name']}  {m['path']}")
    return 0
