"""`codemill optout add|list|apply`: record and apply opt-out requests (governance/optout)."""
from __future__ import annotations

from jobs.commands.common import add_lake_options
from jobs.launch import add_wait_option


def register(subparsers) -> None:
    p = subparsers.add_parser("optout", help="record opt-out requests and remove opted-out repositories from the lake")
    sub = p.add_subparsers(dest="optout_command", metavar="ACTION")
    sub.required = True
    add = sub.add_parser("add", help="record a request for a user/owner (all their repositories) or OWNER/REPO")
    add.add_argument("target", metavar="USER|OWNER/REPO")
    lst = sub.add_parser("list", help="list recorded requests and when they were applied")
    apply = sub.add_parser("apply", help="delete opted-out rows from every lake table and VACUUM old versions")
    apply.add_argument("--no-vacuum", action="store_true", help="delete only (older Delta versions keep the rows)")
    for q in (add, lst, apply):
        add_lake_options(q)
        q.set_defaults(handler=handle)
    for q in (add, apply):
        add_wait_option(q)


def _ctx(args):
    from jobs.commands.common import context
    return context(args, "codemill-optout")


def handle(args) -> int:
    if args.optout_command == "list":
        return _handle(args)
    from jobs.core.lake import lake_root
    from jobs.core.lock import lake_lock
    with lake_lock(lake_root(args.lake), f"codemill optout {args.optout_command}", args.wait):
        return _handle(args)


def _handle(args) -> int:
    from jobs.stages import governance
    if args.optout_command == "add":
        governance.parse_target(args.target)  # validate before starting Spark
        ctx = _ctx(args)
        rid, added = governance.add_request(ctx, args.target)
        print(f"{'recorded' if added else 'already recorded'}: {args.target} (request {rid}); "
              f"run `codemill optout apply` to remove existing rows")
        return 0
    ctx = _ctx(args)
    if args.optout_command == "list":
        rows = governance.requests(ctx)
        for r in rows:
            print(f"{r['kind']:5} {r['target']:40} requested {r['requested_at']}  applied {r['applied_at'] or '-'}")
        if not rows:
            print("no opt-out requests")
        return 0
    report = governance.apply_optouts(ctx, vacuum=not args.no_vacuum)
    if not report.requests_applied:
        print("no opt-out requests to apply")
        return 0
    for table, n in sorted(report.deleted.items()):
        print(f"  {table}: {n} rows deleted{' (vacuumed)' if table in report.vacuumed else ''}")
    for table in report.not_attributable:
        print(f"  {table}: rows are not attributable to a repository; rebuild it (re-run format and tokenize)")
    if report.published:
        print("  published: " + ", ".join(f"{t} v{v}" for t, v in sorted(report.published.items())))
    for table in report.unpublished:
        print(f"  {table}: its published version is older than the latest (a gate failed since); "
              f"its files may be vacuumed: rerun the stage that writes it")
    print(f"applied {report.requests_applied} request(s)")
    return 0
