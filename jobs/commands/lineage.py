"""`codemill lineage`: every training run found, walked back from its checkpoint to the Delta
versions and the stage runs that produced them (checkpoint → gold/tokens version → tokenize
run → gold/training_docs version → format run → … → ingest). With --affected-by-optout, only
the runs, and the lake's tokenizer, trained on a version that held rows an applied opt-out
removed (governance/optout_log): retraining them is the user's decision, this lists them.

Training runs are found by their run.json (written with every checkpoint) and lineage.json
(written at the end) under the --runs folders (default: LAKE/runs and LAKE/checkpoints, where
`codemill run` and `codemill train` put them); runs trained on another lake are skipped.
No Spark: the lake's tables are read with delta-rs."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("lineage", help="walk training runs back to the Delta versions and stage runs they "
                                              "came from (--affected-by-optout: those opt-outs touched)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lake", help="lake folder (default: $CODEMILL_LAKE or ./lake)")
    p.add_argument("--runs", action="append", metavar="DIR",
                   help="folder to search for training runs (repeatable; default: LAKE/runs and LAKE/checkpoints)")
    p.add_argument("--affected-by-optout", action="store_true",
                   help="list only the runs and the tokenizer trained on data an applied opt-out removed")
    p.set_defaults(handler=handle)


def find_training_runs(folders, lake) -> list[dict]:
    """{dir, table, version, tokenizer} of every training run under `folders` trained on `lake`
    (a path or URI)."""
    from jobs.core.storage import Location, workspace_for
    found: dict[Path, dict] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("run.json")) + sorted(folder.rglob("lineage.json")):
            try:
                info = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            config = info.get("config") or {}
            data = config.get("data") or {}
            run_dir = path.parent.parent if path.name == "run.json" and path.parent.name == "checkpoints" else path.parent
            if run_dir.name == "hf":
                run_dir = run_dir.parent
            version = info.get("table_version")
            if version is None or not data.get("lake") or Location(data["lake"]) != lake:
                continue
            entry = found.setdefault(run_dir.resolve(), {"dir": run_dir.resolve()})
            entry.update(table=data.get("table") or "gold/tokens", version=int(version),
                         tokenizer=data.get("tokenizer") or str(workspace_for(Location(lake)) / "tokenizer"),
                         steps=info.get("steps", entry.get("steps")))
    return sorted(found.values(), key=lambda r: str(r["dir"]))


def walk(runs: list[dict], table: str, version: int) -> list[tuple[str, int, str | None, str | None]]:
    """[(table, version, stage, run_id)] from (table, version) back through the stage runs of
    ops/runs (each stage run's versions_read → the run that wrote those versions)."""
    writers = {}
    for r in runs:
        for t, v in (r["versions_written"] or []):
            writers.setdefault((t, int(v)), r)
    chain, todo, seen = [], [(table, int(version))], set()
    while todo:
        key = todo.pop(0)
        if key in seen:
            continue
        seen.add(key)
        run = writers.get(key)
        chain.append((key[0], key[1], run["stage"] if run else None, run["run_id"] if run else None))
        if run:
            todo.extend((t, int(v)) for t, v in (run["versions_read"] or []) if not t.startswith(("ops/", "governance/")))
    return chain


def handle(args) -> int:
    from deltalake.exceptions import TableNotFoundError

    from jobs.core.delta_read import query
    from jobs.core.errors import UserError
    from jobs.core.lake import lake_root
    from jobs.stages.governance import optout_log, version_affected
    from trainer import tokenizer as trainer_tok

    lake = lake_root(args.lake)
    if not lake.is_dir():
        raise UserError(f"lake not found: {lake}")
    from jobs.core.storage import workspace_for
    workspace = workspace_for(lake)
    folders = args.runs or [workspace / "runs", workspace / "checkpoints"]
    try:
        stage_runs = query(str(lake / "ops" / "runs"),
                           "SELECT run_id, stage, versions_read, versions_written FROM t WHERE status = 'succeeded'"
                           ).to_pylist()
    except TableNotFoundError:
        stage_runs = []
    log = optout_log(lake)
    batches = sorted({r["applied_at"] for r in log})
    training = find_training_runs(folders, lake)
    if args.affected_by_optout:
        print(f"{len(batches)} opt-out batch(es) applied to {lake}"
              + (f", the last on {batches[-1]:%Y-%m-%d %H:%M} UTC" if batches else ""))
    shown = 0
    for run in training:
        affected = version_affected(log, run["table"], run["version"])
        if args.affected_by_optout and not affected:
            continue
        shown += 1
        mark = "  AFFECTED: trained on a version that held opted-out data" if affected else ""
        print(f"{run['dir']}  ({run['table']} v{run['version']}, {run.get('steps') or '?'} steps){mark}")
        for table, version, stage, run_id in walk(stage_runs, run["table"], run["version"]):
            origin = f"written by {stage} in run {run_id}" if stage else "not written by a recorded stage run"
            note = "  (held opted-out data)" if version_affected(log, table, version) else ""
            print(f"    {table} v{version}: {origin}{note}")
    tokenizers = {Path(r["tokenizer"]) for r in training} | {workspace / "tokenizer"}
    for tok_dir in sorted(tokenizers):
        info = trainer_tok.provenance(tok_dir)
        if not info or info.get("delta_version") is None:
            continue
        affected = version_affected(log, info.get("table", "gold/training_docs"), int(info["delta_version"]))
        if args.affected_by_optout and not affected:
            continue
        shown += 1
        print(f"tokenizer {tok_dir} (trained on {info.get('table', 'gold/training_docs')} v{info['delta_version']})"
              + ("  AFFECTED: trained on a version that held opted-out data" if affected else ""))
    if not shown:
        print("no affected training runs or tokenizers" if args.affected_by_optout
              else f"no training runs on {lake} under {', '.join(map(str, folders))}")
    return 0
