"""`codemill run`: every stage that exists, in order, on one run id."""
from __future__ import annotations

from jobs.commands.common import add_lake_options, require_path
from jobs.config import REPO_ROOT

SAMPLE_CORPUS = REPO_ROOT / "tests" / "data" / "sample_corpus"


def register(subparsers) -> None:
    from jobs.ingest import FORMATS
    p = subparsers.add_parser("run", help="run the whole pipeline (default input: the shipped sample corpus)")
    add_lake_options(p)
    p.add_argument("--input", default=str(SAMPLE_CORPUS), help="input file or folder (default: %(default)s)")
    p.add_argument("--input-format", choices=FORMATS, help="default: detected from the input")
    p.add_argument("--until", help="stop after this stage")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    require_path(args.input, "input")
    from jobs.pipeline import run_pipeline, stage_names
    from jobs.stage import UserError, make_context
    if args.until and args.until not in stage_names():
        raise UserError(f"unknown stage {args.until!r}; stages: {', '.join(stage_names())}")
    ctx = make_context(args, "codemill-run")
    run_pipeline(ctx, until=args.until)
    print(f"run {ctx.run_id} finished")
    print(f"lake: {ctx.lake.root}")
    for name in ("bronze/files", "bronze/quarantine"):
        if ctx.lake.exists(name):
            print(f"  {name}: {ctx.lake.read(name).count()} rows  ({ctx.lake.path(name)})")
    return 0
