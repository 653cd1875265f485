"""`codemill optout add|list|apply`: record and apply opt-out requests (governance/optout)."""
from __future__ import annotations

from jobs.commands.common import add_lake_options
from jobs.launch import add_wait_option


def register(subparsers) -> None:
    p = subparsers.add_parser("optout", help="record opt-out requests and remove opted-out repositories from the lake")
    sub = p.add_subparsers(dest="optout_command", metavar="ACTION")
    sub.required = True
    add = sub.add_parser("add", help="record requests for users/owners (all their repositories) or OWNER/REPOs")
    add.add_argument("targets", metavar="USER|OWNER/REPO", nargs="*", help="one or more (a batch is one commit)")
    add.add_argument("--file", help="also read targets from this file, one per line (# comments and blank lines skipped)")
    lst = sub.add_parser("list", help="list recorded requests and when they were applied")
    apply = sub.add_parser("apply", help="delete opted-out rows from every lake table and VACUUM old versions")
    apply.add_argument("--no-vacuum", action="store_true", help="delete only (older Delta versions keep the rows)")
    for q in (add, lst, apply):
        add_lake_options(q)
        q.set_defaults(handler=handle)
    for q in (add, apply):
        add_wait_option(q)


def _targets(args) -> list[str]:
    from pathlib import Path

    from jobs.core.errors import UserError
    from jobs.stages import governance
    targets = list(args.targets)
    if args.file:
        try:
            lines = Path(args.file).read_text().splitlines()
        except OSError as err:
            raise UserError(f"cannot read {args.file}: {err.strerror}") from None
        targets += [t.strip() for t in lines if t.strip() and not t.strip().startswith("#")]
    if not targets:
        raise UserError("no targets: give USER or OWNER/REPO arguments, or --file")
    for t in targets:
        governance.parse_target(t)
    return list(dict.fromkeys(targets))


def handle(args) -> int:
    from jobs.core.lake import lake_root
    root = lake_root(args.lake)
    if args.optout_command == "list":
        return _handle(args, root)
    from jobs.core.lock import lake_lock
    with lake_lock(root, f"codemill optout {args.optout_command}", args.wait):
        return _handle(args, root)


def _handle(args, root) -> int:
    """Every action runs on the driver with delta-rs: no Spark session, no JVM."""
    from jobs.core.errors import UserError
    from jobs.core.stage import new_run_id
    from jobs.stages import governance
    if args.optout_command == "add":
        targets = _targets(args)
        root.mkdir(parents=True, exist_ok=True)  # requests may come before the first run
        added = governance.add_requests(root, targets)
        for target, (rid, new) in zip(targets, added):
            print(f"{'recorded' if new else 'already recorded'}: {target} (request {rid})")
        print(f"{sum(new for _, new in added)} new request(s); run `codemill optout apply` to remove existing rows")
        return 0
    if args.optout_command == "list":
        rows = governance.requests(root)
        for r in rows:
            print(f"{r['kind']:5} {r['target']:40} requested {r['requested_at']}  applied {r['applied_at'] or '-'}")
        if not rows:
            print("no opt-out requests")
        return 0
    if not root.is_dir():
        raise UserError(f"lake not found: {root}")
    report = governance.apply_optouts(root, getattr(args, "run_id", None) or new_run_id(), vacuum=not args.no_vacuum)
    if not report.requests_applied:
        print("no opt-out requests to apply")
        return 0
    for table, n in sorted(report.deleted.items()):
        print(f"  {table}: {n} rows deleted{' (vacuumed)' if table in report.vacuumed else ''}")
    if report.published:
        print("  published: " + ", ".join(f"{t} v{v}" for t, v in sorted(report.published.items())))
    for table in report.unpublished:
        print(f"  {table}: its published version is older than the latest (a gate failed since); "
              f"its files may be vacuumed: rerun the stage that writes it")
    print("  time: " + ", ".join(f"{k} {v:.1f}s" for k, v in report.phases.items()))
    print(f"applied {report.requests_applied} request(s) in {report.seconds:.1f}s; checkpoints and tokenizers "
          f"trained on removed data: `codemill lineage --affected-by-optout --lake {args.lake or 'LAKE'}`")
    return 0
