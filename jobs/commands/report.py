"""`codemill report`: the run report (one self-contained HTML page with embedded plots) at
<lake>/reports/run-<run_id>.html and the dataset card at <lake>/reports/dataset_card.md.
`--screenshot PNG` also renders the page in headless Chromium and checks its plots."""
from __future__ import annotations

import argparse

from jobs.commands.common import add_lake_options, existing_lake


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="write the run report (HTML) and the dataset card (Markdown)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_lake_options(p, run_id_help="run to report (default: the latest run in ops/runs)")
    p.add_argument("--no-card", action="store_true", help="write only the run report")
    p.add_argument("--screenshot", metavar="PNG", help="render the report in headless Chromium into PNG and check it")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from quality_checks.card import build_card
    from quality_checks.report import build_report

    config, lake = existing_lake(args)
    path = build_report(lake, args.run_id)
    print(f"run report: {path}")
    if not args.no_card:
        print(f"dataset card: {build_card(lake, config)}")
    if args.screenshot:
        from quality_checks.render import check_render
        result = check_render(path, args.screenshot)
        print(f"screenshot: {result.screenshot} ({result.width}x{result.height}, "
              f"{result.ink_fraction:.1%} non-white pixels, {result.images} embedded PNGs)")
    return 0
