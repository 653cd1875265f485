"""`codemill ingest`: the ingest stage alone."""
from __future__ import annotations

from jobs.commands.common import add_lake_options, require_path


def register(subparsers) -> None:
    from jobs import ingest
    p = subparsers.add_parser("ingest", help="read JSONL / Parquet / repository folders into bronze/files",
                              description=ingest.__doc__, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    add_lake_options(p)
    ingest.add_arguments(p)
    p.set_defaults(handler=handle)


def handle(args) -> int:
    require_path(args.input, "input")
    from jobs import ingest
    from jobs.stage import execute_stage, make_context
    ctx = make_context(args, "codemill-ingest")
    execute_stage(ctx, ingest.STAGE, ingest.run)
    print(f"bronze/files and bronze/quarantine written under {ctx.lake.root}")
    return 0
