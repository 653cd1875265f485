"""Options shared by sub-commands, and the context they build."""
from __future__ import annotations

import argparse
from pathlib import Path

from jobs.stage import UserError


def register(subparsers) -> None:  # not a command: a home for shared helpers
    return None


def add_lake_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake", help="lake folder (default: $CODEMILL_LAKE or ./lake)")
    parser.add_argument("--config", help="YAML file merged over configs/pipeline.yaml")
    parser.add_argument("--run-id", help="run id (default: a new one); re-using one replaces that run's output")


def require_path(path: str | None, what: str) -> Path:
    if not path or not Path(path).exists():
        raise UserError(f"{what} not found: {path}")
    return Path(path)
