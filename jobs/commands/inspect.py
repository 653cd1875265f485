"""`codemill inspect`: the HTML inspection report for setting filter thresholds by looking."""
from __future__ import annotations

from jobs.commands.common import add_lake_options


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="HTML report: samples per extension (kept and rejected), metric "
                                              "distributions and suggested thresholds")
    add_lake_options(p)
    p.add_argument("--per-extension", type=int, help="samples per extension and outcome (default: config, 100)")
    p.add_argument("--out", help="output file (default: <lake>/reports/inspection.html)")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from jobs.tools.inspect_report import build_report
    from jobs.commands.common import context
    from jobs.core.errors import UserError
    if args.per_extension is not None and args.per_extension < 1:
        raise UserError("--per-extension must be at least 1")
    ctx = context(args, "codemill-inspect")
    path = build_report(ctx, per_extension=args.per_extension, out=args.out)
    print(f"inspection report: {path}")
    return 0
