"""Errors a user can act on: the CLI prints them as one line and exits 2 (1 for a failed gate)."""
from __future__ import annotations

from udfs.typedconfig import ConfigError as _TypedConfigError


class UserError(Exception):
    """A problem the user can fix (bad path, bad option, a stage to run first): one line."""


class ConfigError(UserError, _TypedConfigError):
    """A config file or override that is missing, unreadable or malformed."""


CONFIG_ERRORS = (UserError, _TypedConfigError)
