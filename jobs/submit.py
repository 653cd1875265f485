"""The one spark-submit entry point of every stage (what the DAG and a cluster run):

    spark-submit [--master ...] jobs/submit.py STAGE --lake DIR [--run-id ID] [stage options]

Same options and behaviour as `codemill STAGE` (jobs/launch.py). Run as a script by
spark-submit: the project folder is put on the path when codemill is not installed (on a
cluster the code arrives with --py-files instead).
"""
from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    try:
        import jobs  # noqa: F401 - installed, or shipped with --py-files
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    import argparse

    from jobs.core.errors import CONFIG_ERRORS
    from jobs.core.logs import setup_logging
    from jobs.launch import add_stage_options, run_stage
    from jobs.stages import STAGES

    parser = argparse.ArgumentParser(prog="jobs/submit.py", description=__doc__.splitlines()[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug output")
    sub = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)
    for stage in STAGES:
        add_stage_options(sub.add_parser(stage.name, help=stage.help, description=stage.help), stage)
    args = parser.parse_args(argv)
    setup_logging(-1 if args.quiet else 1 if args.verbose else 0)
    stage = next(s for s in STAGES if s.name == args.stage)
    try:
        return run_stage(stage, args, STAGES)
    except CONFIG_ERRORS as err:
        print(f"codemill: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
