"""`codemill` command line. Every sub-command lives in jobs/commands/<name>.py, which
defines `register(subparsers)`; the parser calls `args.handler(args)` -> exit code.

Heavy imports (pyspark, torch) happen inside handlers, so `--help` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import jobs.commands as commands
from jobs.config import ConfigError
from jobs.stage import UserError, fail


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codemill",
        description="Turn source-code repositories into training data for code LLMs (The Stack / StarCoder recipe) "
                    "and train on it.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"jobs.commands.{info.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UserError, ConfigError) as err:
        return fail(str(err))
    except KeyboardInterrupt:
        return fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
