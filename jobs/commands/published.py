"""`codemill published [list|history|rollback]`: the versions readers see (write-audit-publish,
docs/operations.md). A stage's output is published when its gate passes; every reader (later
stages, train, report, card, membership, the curation DAG's asset) reads the published
version of a table, never its latest. No Spark: ops/published is read with delta-rs."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("published", help="show the table versions readers see, or roll one back",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="published_command", metavar="ACTION")
    lst = sub.add_parser("list", help="each table's published version, next to its latest (the default action)")
    hist = sub.add_parser("history", help="every publication of a table (or all), oldest first")
    hist.add_argument("table", nargs="?", help="e.g. gold/tokens (default: every table)")
    back = sub.add_parser("rollback", help="publish an earlier published version of a table again")
    back.add_argument("table", help="e.g. gold/tokens")
    back.add_argument("version", type=int, help="a version of the table that was published before")
    p.add_argument("--lake", help="lake folder (default: $CODEMILL_LAKE or ./lake)")
    for q in (lst, hist, back):  # also after the action; SUPPRESS keeps a --lake given before it
        q.add_argument("--lake", default=argparse.SUPPRESS, help="lake folder (default: $CODEMILL_LAKE or ./lake)")
    p.set_defaults(handler=handle)


def _latest(root, name: str) -> int | None:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError
    try:
        return DeltaTable(f"{root}/{name}").version()
    except TableNotFoundError:
        return None


def handle(args) -> int:
    from jobs.core import publish
    from jobs.core.errors import UserError
    from jobs.core.lake import lake_root
    from schemas import table as table_def
    root = lake_root(args.lake)
    if not root.is_dir():
        raise UserError(f"lake not found: {root}")
    action = args.published_command or "list"
    if action == "rollback":
        table_def(args.table)  # a typo is a one-line error naming the known tables
        rows = [r for r in publish.published_rows(root) if r["table_name"] == args.table]
        if args.version not in {int(r["version"]) for r in rows}:
            known = ", ".join(str(v) for v in sorted({int(r["version"]) for r in rows})) or "none"
            raise UserError(f"{args.table} version {args.version} was never published (published versions: {known})")
        if not publish.version_readable(root, args.table, args.version):
            raise UserError(f"{args.table} version {args.version} can no longer be read (vacuumed, e.g. by "
                            "`codemill optout apply`)")
        previous = publish.published_version(root, args.table)
        publish.publish(root, {args.table: args.version}, "rollback", "rollback", f"rollback from version {previous}")
        print(f"{args.table}: published version {previous} -> {args.version}; readers now see version {args.version}")
        return 0
    if action == "history":
        rows = [r for r in publish.published_rows(root) if args.table in (None, r["table_name"])]
        for r in rows:
            print(f"{r['published_at']:%Y-%m-%d %H:%M:%S}  {r['table_name']:<28} v{r['version']:<5} "
                  f"{r['stage']:<14} run {r['run_id']}  {r['note'] or ''}")
        if not rows:
            print("nothing published")
        return 0
    current = publish.current(root)
    if not current:
        print(f"nothing published in {root} (no gate has passed yet)")
        return 0
    width = max(len(t) for t in current)
    for name, r in sorted(current.items()):
        latest = _latest(root, name)
        note = "" if latest == int(r["version"]) else f"  (latest version {latest} is not published)"
        print(f"{name:<{width}}  published v{r['version']}  by {r['stage']}, run {r['run_id']}, "
              f"{r['published_at']:%Y-%m-%d %H:%M:%S} UTC{note}")
    return 0
