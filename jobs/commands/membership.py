"""`codemill membership USER`: which of a user's repositories are in each lake table ("Am I in The Stack")."""
from __future__ import annotations

from jobs.commands.common import add_lake_options


def register(subparsers) -> None:
    p = subparsers.add_parser("membership", help="list a user's (or OWNER/REPO's) repositories present in each lake table")
    p.add_argument("user", metavar="USER|OWNER/REPO")
    add_lake_options(p)
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from jobs.stages import governance
    from jobs.commands.common import context
    governance.parse_target(args.user)
    ctx = context(args, "codemill-membership")
    found = governance.membership(ctx, args.user)
    total = 0
    for table, repos in found.items():
        if repos:
            print(f"{table}:")
            for repo, n in repos:
                print(f"  {repo}  ({n} rows)")
            total += len(repos)
        else:
            print(f"{table}: none")
    print(f"{args.user}: present in {sum(1 for r in found.values() if r)} of {len(found)} tables")
    return 0
