"""`codemill card`: only the dataset card, <lake>/reports/dataset_card.md (also written by `codemill report`)."""
from __future__ import annotations

from jobs.commands.common import add_lake_options


def register(subparsers) -> None:
    p = subparsers.add_parser("card", help="write the dataset card (Markdown) from the lake")
    add_lake_options(p, run_id_help=None)
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from jobs.config import load_config
    from jobs.lake import Lake, lake_root
    from jobs.stage import UserError

    config = load_config(args.config)
    root = lake_root(args.lake)
    if not root.is_dir():
        raise UserError(f"lake not found: {root}")
    from jobs.session import get_spark
    from quality_checks.card import build_card
    print(f"dataset card: {build_card(Lake(get_spark('codemill-card'), root), config)}")
    return 0
