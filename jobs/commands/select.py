"""`codemill select` / `codemill filter`: run one curation stage alone."""
from __future__ import annotations

from jobs.commands.common import add_lake_options


def register(subparsers) -> None:
    for name, help_text in (("select", "language, license and opt-out selection: bronze/files → silver/selected"),
                            ("filter", "per-extension quality heuristics: silver/selected → silver/filtered")):
        p = subparsers.add_parser(name, help=help_text)
        add_lake_options(p)
        p.set_defaults(handler=handle, stage_name=name)


def handle(args) -> int:
    import importlib

    from jobs.stage import execute_stage, make_context
    module = importlib.import_module(f"jobs.{args.stage_name}")
    ctx = make_context(args, f"codemill-{args.stage_name}")
    result = execute_stage(ctx, module.STAGE, module.run)
    print(f"{module.STAGE}: {result.rows_in} in, {result.rows_kept} kept, {result.rows_rejected} rejected")
    return 0
