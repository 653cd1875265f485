"""`codemill` command line.

Two kinds of sub-command: one per pipeline stage, made from the registry (jobs/stages/:
`codemill ingest`, `codemill dedup`, ...), and the tools, each in jobs/commands/<name>.py
defining `register(subparsers)`. The parser calls `args.handler(args)` -> exit code.

Heavy imports (pyspark, torch) happen inside handlers, so `--help` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import jobs.commands as commands
from jobs.core.errors import CONFIG_ERRORS
from jobs.core.logs import setup_logging


def _stage_handler(stage):
    def handle(args) -> int:
        from jobs.launch import run_stage
        from jobs.stages import STAGES
        return run_stage(stage, args, STAGES)
    return handle


def build_parser() -> argparse.ArgumentParser:
    from jobs.launch import add_stage_options
    from jobs.stages import STAGES

    parser = argparse.ArgumentParser(
        prog="codemill",
        description="Turn source-code repositories into training data for code LLMs (The Stack / StarCoder recipe) "
                    "and train on it.")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for stage in STAGES:
        p = sub.add_parser(stage.name, help=f"stage: {stage.help}", description=stage.help)
        add_stage_options(p, stage)
        p.set_defaults(handler=_stage_handler(stage))
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"jobs.commands.{info.name}").register(sub)
    return parser


def fail(message: str, code: int = 2) -> int:
    print(f"codemill: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(-1 if args.quiet else 1 if args.verbose else 0)
    try:
        return int(args.handler(args) or 0)
    except CONFIG_ERRORS as err:
        return fail(str(err))
    except KeyboardInterrupt:
        return fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
