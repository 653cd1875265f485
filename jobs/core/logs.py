"""Logging for every codemill process: stdlib `logging`, the run id in every line.

    setup_logging(verbosity)   # once, by the CLI / spark-submit entry point
    set_run_id(run_id)         # when a run starts; every later line carries it
    log = logging.getLogger(__name__)

Progress of long work goes to INFO (shown by default), details to DEBUG (`--verbose`),
`--quiet` shows warnings and errors only. Lines go to stderr, so a command's own results on
stdout stay machine-readable.
"""
from __future__ import annotations

import logging
import sys

_RUN_ID = "-"
FORMAT = "%(asctime)s [codemill %(run_id)s] %(levelname)s %(name)s: %(message)s"


def set_run_id(run_id: str | None) -> None:
    global _RUN_ID
    _RUN_ID = run_id or "-"


def current_run_id() -> str:
    return _RUN_ID


class _RunIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = _RUN_ID
        return True


def setup_logging(verbosity: int = 0) -> None:
    """verbosity < 0: warnings only; 0: INFO; > 0: DEBUG. Idempotent (one handler)."""
    level = logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    root = logging.getLogger("codemill")
    root.setLevel(level)
    if not any(getattr(h, "_codemill", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._codemill = True  # type: ignore[attr-defined]
        handler.addFilter(_RunIdFilter())
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        root.addHandler(handler)
        root.propagate = False


def get_logger(name: str) -> logging.Logger:
    """A logger under the `codemill` root (so setup_logging's handler and level apply):
    get_logger(__name__) in a module of jobs/ gives `codemill.jobs.stages.dedup`."""
    return logging.getLogger(f"codemill.{name}")
