"""`codemill check STAGE`: run a stage's data-quality gate (Great Expectations suites of its
output tables), record the results in ops/dq_results, rebuild Data Docs under
<lake>/reports/data_docs. Exit 0 when every expectation passes, 1 when one fails (the
message names the table, the expectation, the failing rows and a few ids), 2 on usage errors
such as checking a stage whose tables do not exist. `all` checks every stage whose tables
exist and says which it skipped."""
from __future__ import annotations

import argparse
import sys

from jobs.commands.common import add_lake_options, existing_lake
from jobs.launch import add_wait_option


def register(subparsers) -> None:
    from jobs.stages import stage_names
    names = stage_names()
    p = subparsers.add_parser("check", help="run the data-quality gate of a stage (or all) on the lake",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=names + ["all"], metavar="STAGE", help=f"one of {', '.join(names)}, or all")
    add_lake_options(p, run_id_help="run whose accounting is checked (default: the stage's latest run in ops/runs)")
    p.add_argument("--no-docs", action="store_true", help="do not rebuild Data Docs")
    add_wait_option(p)
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from jobs.core.errors import UserError
    from jobs.core.lake import lake_root
    from jobs.core.lock import lake_lock
    if not lake_root(args.lake).is_dir():
        raise UserError(f"lake not found: {lake_root(args.lake)}")
    with lake_lock(lake_root(args.lake), f"codemill check {args.stage}", args.wait):
        return _handle(args)


def _handle(args) -> int:
    from jobs.core.errors import UserError
    from jobs.stages import STAGES, get_stage
    from quality_checks.gates import GateFailed, run_gate

    config, lake = existing_lake(args)
    stages = list(STAGES) if args.stage == "all" else [get_stage(args.stage)]
    failed = checked = 0
    for stage in stages:
        if args.stage == "all":
            absent = [t for t in stage.gated if not lake.exists(t)]
            if absent:
                print(f"skip {stage.name}: {', '.join(absent)} not in the lake")
                continue
        try:
            report = run_gate(lake, config, stage, args.run_id, docs=not args.no_docs)
            print(f"OK   {report.summary()}")
        except GateFailed as err:
            print(f"FAIL {err}", file=sys.stderr)
            failed += 1
        checked += 1
    if args.stage == "all" and not checked:
        raise UserError(f"no stage output tables found in {lake.root}")
    print(f"results: ops/dq_results in {lake.root}; Data Docs: {lake.workspace / 'reports' / 'data_docs' / 'index.html'}")
    return 1 if failed else 0
