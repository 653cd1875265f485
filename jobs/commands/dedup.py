"""`codemill dedup`: the dedup stage alone (exact + near; --incremental, --no-verify)."""
from __future__ import annotations

import argparse

from jobs.commands.common import add_lake_options


def register(subparsers) -> None:
    from jobs import dedup
    p = subparsers.add_parser("dedup", help="exact + MinHash near deduplication of the curated files",
                              description=dedup.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_lake_options(p)
    dedup.add_arguments(p)
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from jobs import dedup
    from jobs.stage import execute_stage, make_context
    ctx = make_context(args, "codemill-dedup")
    result = execute_stage(ctx, dedup.STAGE, dedup.run)
    print(f"silver/deduped: {result.rows_kept} of {result.rows_in} files kept under {ctx.lake.root}")
    return 0
