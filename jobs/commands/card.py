"""`codemill card`: only the dataset card, <lake>/reports/dataset_card.md (also written by `codemill report`)."""
from __future__ import annotations

from jobs.commands.common import add_lake_options, existing_lake


def register(subparsers) -> None:
    p = subparsers.add_parser("card", help="write the dataset card (Markdown) from the lake")
    add_lake_options(p, run_id_help=None)
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from quality_checks.card import build_card
    config, lake = existing_lake(args)
    print(f"dataset card: {build_card(lake, config)}")
    return 0
