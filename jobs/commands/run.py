"""`codemill run`: every stage of the registry, in order, on one run id, each followed by its gate."""
from __future__ import annotations

import sys

from jobs.commands.common import add_lake_options, require_location
from jobs.launch import add_incremental_option, add_wait_option
from jobs.core.config import REPO_ROOT

SAMPLE_CORPUS = REPO_ROOT / "tests" / "data" / "sample_corpus"


def register(subparsers) -> None:
    from jobs.stages import stage_names
    from jobs.stages.ingest import FORMATS
    p = subparsers.add_parser("run", help="run the whole pipeline (default input: the shipped sample corpus)")
    add_lake_options(p)
    add_wait_option(p)
    add_incremental_option(p, whole_run=True)
    p.add_argument("--input", default=str(SAMPLE_CORPUS),
                   help="input file or folder: .jsonl/.jsonl.gz/.json/.parquet, a folder of them, one repository "
                        "or a folder of repositories (default: %(default)s)")
    p.add_argument("--input-format", choices=FORMATS, help="default: detected from the input")
    p.add_argument("--until", choices=stage_names(), metavar="STAGE", help="stop after this stage")
    p.add_argument("--no-gates", action="store_true",
                   help="skip the data-quality gate after each stage (quality_checks/; default: gates run)")
    p.add_argument("--train-steps", type=int, default=4,
                   help="end by training a tiny model this many steps on gold/tokens (0: no training; default %(default)s)")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    require_location(args.input, "input")
    from jobs.core.lake import lake_root
    from jobs.core.lock import lake_lock
    with lake_lock(lake_root(args.lake), "codemill run", args.wait):
        return _run(args)


def _run(args) -> int:
    from jobs.launch import make_context
    from jobs.pipeline import run_pipeline
    from jobs.stages import STAGES
    ctx = make_context(args, "codemill-run", STAGES)
    from quality_checks.gates import GateFailed, gate_after_stage
    gates = not args.no_gates and ctx.config.quality.gate_after_each_stage
    if gates:
        from quality_checks.context import preload_gx
        preload_gx()  # imported while ingest runs, not at its gate
    try:
        run_pipeline(ctx, until=args.until, after_stage=gate_after_stage if gates else None)
    except GateFailed as err:
        print(f"codemill: {err}", file=sys.stderr)
        print(f"run {ctx.run_id} stopped by a data-quality gate", file=sys.stderr)
        _print_tables(ctx)
        _write_reports(ctx)
        return 1
    print(f"run {ctx.run_id} finished")
    if not gates:
        print(f"gates skipped: nothing of run {ctx.run_id} was published (readers still see the versions "
              f"listed as published); `codemill check all --run-id {ctx.run_id}` audits and publishes it")
    _print_tables(ctx)
    _write_reports(ctx)
    if args.train_steps > 0 and ctx.lake.published_version("gold/tokens") is not None:
        _train_tiny_model(ctx, args.train_steps)
    elif args.train_steps > 0:
        print("no published gold/tokens: tiny model not trained")
    return 0


def _print_tables(ctx) -> None:
    """Every table of the lake with its row count and latest Delta version (what the run
    left), and the version readers see when that is another one (jobs/core/publish.py)."""
    from jobs.core.publish import current
    from schemas import TABLES
    print(f"lake: {ctx.lake.root}")
    present = [name for name in TABLES if ctx.lake.exists(name)]
    published = current(ctx.lake.root)
    width = max((len(n) for n in present), default=0)
    for name in present:
        version = ctx.lake.version(name)
        seen = published.get(name)
        note = ("" if seen is None and name.startswith(("ops/", "governance/"))
                else "  not published" if seen is None
                else "" if int(seen["version"]) == version else f"  published: version {seen['version']}")
        print(f"  {name:<{width}}  {ctx.lake.read(name).count():>9,} rows  version {version}{note}")


def _train_tiny_model(ctx, steps: int) -> None:
    """A few DeepSpeed steps of the tiny GPTBigCode on the gold tokens just written (one
    process, so `auto` runs the engine without ZeRO partitioning): proves the hand-off to
    training works end to end."""
    from trainer.train import train_from_lake
    run_dir = train_from_lake(str(ctx.lake.root), model_config="tiny", steps=steps, deepspeed="auto",
                              output_dir=str(ctx.lake.workspace / "checkpoints" / ctx.run_id))
    print(f"tiny model trained {steps} steps on gold/tokens: checkpoint {run_dir}")


def _write_reports(ctx) -> None:
    """The run report and the dataset card (quality_checks/), their paths printed."""
    from quality_checks.card import build_card
    from quality_checks.gates import build_lake_docs
    from quality_checks.report import build_report
    docs = build_lake_docs(ctx.lake)
    if docs:
        print(f"data docs: {docs}")
    print(f"run report: {build_report(ctx.lake, ctx.run_id)}")
    print(f"dataset card: {build_card(ctx.lake, ctx.config)}")
    root = ctx.lake.root
    if not root.is_local and ctx.config.quality.reports_to_lake:
        # reports are written locally (GX's file context, the renderers); a copy goes beside the tables
        copied = (root / "_reports").upload(ctx.lake.workspace / "reports")
        print(f"reports copied to {root / '_reports'} ({copied} files; quality.reports_to_lake)")
