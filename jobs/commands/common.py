"""Options shared by sub-commands, and the context they build."""
from __future__ import annotations

import argparse
from pathlib import Path

from jobs.stage import UserError


def register(subparsers) -> None:  # not a command: a home for shared helpers
    return None


NEW_RUN_ID_HELP = "run id (default: a new one); re-using one replaces that run's output"


def add_lake_options(parser: argparse.ArgumentParser, run_id_help: str | None = NEW_RUN_ID_HELP) -> None:
    """--lake and --config, and --run-id unless run_id_help is None (commands that read a
    past run say which one they default to)."""
    parser.add_argument("--lake", help="lake folder (default: $CODEMILL_LAKE or ./lake)")
    parser.add_argument("--config", help="YAML file merged over configs/pipeline.yaml")
    if run_id_help is not None:
        parser.add_argument("--run-id", help=run_id_help)


def require_path(path: str | None, what: str) -> Path:
    if not path or not Path(path).exists():
        raise UserError(f"{what} not found: {path}")
    return Path(path)
