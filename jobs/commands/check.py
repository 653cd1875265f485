"""`codemill check STAGE`: run a stage's data-quality gate (Great Expectations suites of its
output tables), record the results in ops/dq_results, rebuild Data Docs under
<lake>/reports/data_docs. Exit 0 when every expectation passes, 1 when one fails (the
message names the table, the expectation, the failing rows and a few ids), 2 on usage errors
such as checking a stage whose tables do not exist. `all` checks every stage whose tables
exist and says which it skipped."""
from __future__ import annotations

import argparse
import sys

from jobs.commands.common import add_lake_options

STAGES = ("ingest", "select", "filter", "dedup", "pii", "decontaminate", "format", "tokenize")


def register(subparsers) -> None:
    p = subparsers.add_parser("check", help="run the data-quality gate of a stage (or all) on the lake",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=STAGES + ("all",), metavar="STAGE",
                   help=f"one of {', '.join(STAGES)}, or all")
    add_lake_options(p, run_id_help="run whose accounting is checked (default: the stage's latest run in ops/runs)")
    p.add_argument("--no-docs", action="store_true", help="do not rebuild Data Docs")
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
    from quality_checks.gates import GateFailed, run_gate
    from quality_checks.settings import STAGE_TABLES

    lake = Lake(get_spark("codemill-check"), root)
    stages = list(STAGES) if args.stage == "all" else [args.stage]
    failed = checked = 0
    for stage in stages:
        if args.stage == "all":
            absent = [t for t in STAGE_TABLES[stage] if not lake.exists(t)]
            if absent:
                print(f"skip {stage}: {', '.join(absent)} not in the lake")
                continue
        try:
            report = run_gate(lake, config, stage, args.run_id, docs=not args.no_docs)
            print(f"OK   {report.summary()}")
        except GateFailed as err:
            print(f"FAIL {err}", file=sys.stderr)
            failed += 1
        checked += 1
    if args.stage == "all" and not checked:
        raise UserError(f"no stage output tables found in {root}")
    print(f"results: ops/dq_results in {root}; Data Docs: {root / 'reports' / 'data_docs' / 'index.html'}")
    return 1 if failed else 0
