"""Options shared by sub-commands, and the context they build."""
from __future__ import annotations

from pathlib import Path

from jobs.core.errors import UserError
from jobs.launch import NEW_RUN_ID_HELP, add_lake_options  # noqa: F401 - re-exported for the commands


def register(subparsers) -> None:  # not a command: a home for shared helpers
    return None


def require_path(path: str | None, what: str) -> Path:
    if not path or not Path(path).exists():
        raise UserError(f"{what} not found: {path}")
    return Path(path)


def require_location(where: str | None, what: str):
    """An existing local path or URI (s3a://, hdfs://...), as jobs.core.storage.Location."""
    from jobs.core.storage import Location
    location = Location(where) if where else None
    if location is None or not location.exists():
        raise UserError(f"{what} not found: {where}")
    return location


def context(args, app_name: str, nlp: bool = False):
    """A stage context for a command that reads the lake (inputs resolved by lineage)."""
    from jobs.launch import make_context
    from jobs.stages import STAGES
    return make_context(args, app_name, STAGES, nlp=nlp)


def existing_lake(args):
    """(config, Lake) of a command that reads an existing lake: UserError when there is none."""
    from jobs.core.config import load_config
    from jobs.core.lake import Lake, lake_root
    from jobs.core.session import get_spark
    config = load_config(getattr(args, "config", None))
    root = lake_root(getattr(args, "lake", None))
    if not root.is_dir():
        raise UserError(f"lake not found: {root}")
    return config, Lake(get_spark(f"codemill-{args.command}", s3=root.is_s3), root)
