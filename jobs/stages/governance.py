"""Opt-out and membership (docs/recipe.md §12): who asked to be removed, removing them from every
lake table and from older Delta versions, and "Am I in the lake?".

* `add_request`: records a user (`alice`) or repository (`alice/project`) in governance/optout.
* `optout_filter`: the Spark condition the select stage uses to drop opted-out repositories
  (a user matches the owner part of repo_name, case-insensitively).
* `apply_optouts`: Delta DELETE of their rows from every table that has repo_name (and,
  via file_id, from tables that only have file_id), then VACUUM with zero retention so
  no older table version still holds them; records applied_at.
* `membership`: a user's repositories present in each table.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from jobs.core.errors import UserError
from jobs.core.publish import publish
from jobs.core.stage import StageContext, now_utc
from schemas import TABLES

OPTOUT_TABLE = "governance/optout"
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})$")
# Tables whose rows cannot be traced back to a repository: packed token sequences mix many
# documents. They must be rebuilt (re-run format + tokenize) after an opt-out is applied.
NOT_ATTRIBUTABLE = ("gold/tokens",)


def parse_target(target: str) -> tuple[str, str]:
    """'alice' → ('user', 'alice'); 'alice/project' → ('repo', 'alice/project')."""
    target = (target or "").strip()
    parts = target.split("/")
    if len(parts) > 2 or not all(_NAME.match(p) for p in parts):
        raise UserError(f"not a GitHub user or owner/repo name: {target!r}")
    return ("repo" if len(parts) == 2 else "user"), target


def request_id(kind: str, target: str) -> str:
    return hashlib.sha256(f"{kind}\x00{target.lower()}".encode()).hexdigest()[:32]


def add_request(ctx: StageContext, target: str) -> tuple[str, bool]:
    """Record an opt-out request; returns (request_id, newly_added)."""
    from pyspark.sql import functions as F

    from schemas import table as table_def
    kind, target = parse_target(target)
    rid = request_id(kind, target)
    lake = ctx.lake
    if lake.exists(OPTOUT_TABLE) and lake.read(OPTOUT_TABLE).filter(F.col("request_id") == rid).count():
        return rid, False
    row = {"request_id": rid, "kind": kind, "target": target, "requested_at": now_utc(), "applied_at": None}
    lake.append(ctx.spark.createDataFrame([row], table_def(OPTOUT_TABLE).schema), OPTOUT_TABLE)
    return rid, True


def requests(ctx: StageContext) -> list[dict]:
    if not ctx.lake.exists(OPTOUT_TABLE):
        return []
    return [r.asDict() for r in ctx.lake.read(OPTOUT_TABLE).orderBy("requested_at").collect()]


def _targets(rows: list[dict]) -> tuple[list[str], list[str]]:
    users = sorted({r["target"].lower() for r in rows if r["kind"] == "user"})
    repos = sorted({r["target"].lower() for r in rows if r["kind"] == "repo"})
    return users, repos


def repo_condition(users: list[str], repos: list[str], column: str = "repo_name"):
    """Spark Column: repo_name belongs to an opted-out user or is an opted-out repository."""
    from pyspark.sql import functions as F
    cond = F.lit(False)
    if users:
        cond = cond | F.lower(F.split(F.col(column), "/").getItem(0)).isin(users)
    if repos:
        cond = cond | F.lower(F.col(column)).isin(repos)
    return cond


def optout_filter(ctx: StageContext):
    """Condition for the select stage, or None when nobody opted out."""
    users, repos = _targets(requests(ctx))
    if not users and not repos:
        return None
    return repo_condition(users, repos)


def _sql_condition(users: list[str], repos: list[str]) -> str:
    def quote(values):
        return ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    parts = []
    if users:
        parts.append(f"lower(split(repo_name, '/')[0]) IN ({quote(users)})")
    if repos:
        parts.append(f"lower(repo_name) IN ({quote(repos)})")
    return " OR ".join(parts) or "false"


@dataclass
class ApplyReport:
    deleted: dict[str, int] = field(default_factory=dict)    # table -> rows deleted
    vacuumed: list[str] = field(default_factory=list)
    not_attributable: list[str] = field(default_factory=list)
    requests_applied: int = 0
    published: dict[str, int] = field(default_factory=dict)  # table -> its new published version
    unpublished: list[str] = field(default_factory=list)     # tables whose published version was not the latest


def _columns(name: str) -> set[str]:
    return {f.name for f in TABLES[name].schema.fields}


def apply_optouts(ctx: StageContext, vacuum: bool = True) -> ApplyReport:
    """Delete every opted-out repository's rows from every lake table and vacuum old files."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    rows = requests(ctx)
    users, repos = _targets(rows)
    report = ApplyReport()
    if not rows:
        return report
    lake, spark = ctx.lake, ctx.spark
    existing = [n for n in TABLES if n != OPTOUT_TABLE and lake.exists(n)]
    with_repo = [n for n in existing if "repo_name" in _columns(n)]
    file_only = [n for n in existing if "file_id" in _columns(n) and "repo_name" not in _columns(n)]
    condition = _sql_condition(users, repos)
    before = {n: (lake.version(n), lake.published_version(n)) for n in existing}

    # 1. Tables with file_id but no repo_name: delete by the file ids of the opted-out
    #    repositories, collected from the tables that have both (before those lose them).
    if file_only:
        id_sources = [lake.read(n).filter(condition).select("file_id")
                      for n in with_repo if "file_id" in _columns(n)]
        if id_sources:
            ids = id_sources[0]
            for other in id_sources[1:]:
                ids = ids.unionByName(other)
            ids = [r["file_id"] for r in ids.distinct().collect()]
            if ids:
                ids_df = spark.createDataFrame([(i,) for i in ids], "file_id string")
                for name in file_only:
                    rows_before = lake.read(name).count()
                    (DeltaTable.forPath(spark, lake.path(name)).alias("t")
                        .merge(F.broadcast(ids_df).alias("s"), "t.file_id = s.file_id")
                        .whenMatchedDelete().execute())
                    report.deleted[name] = rows_before - lake.read(name).count()
    # 2. Tables with repo_name: a plain Delta DELETE.
    for name in with_repo:
        n = lake.read(name).filter(condition).count()
        if n:
            DeltaTable.forPath(spark, lake.path(name)).delete(condition)
        report.deleted[name] = n
    report.not_attributable = [n for n in NOT_ATTRIBUTABLE if n in existing]

    # 3. VACUUM with zero retention: the files of older versions that held the rows are
    #    removed, so time travel to those versions cannot return them.
    if vacuum:
        previous = spark.conf.get("spark.databricks.delta.retentionDurationCheck.enabled", "true")
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
        try:
            for name, n in report.deleted.items():
                if n:
                    _purge_deletion_vectors(spark, lake.path(name))
                    DeltaTable.forPath(spark, lake.path(name)).vacuum(0)
                    report.vacuumed.append(name)
        finally:
            spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", previous)

    # 3b. Publish the versions without the rows (after the purge and vacuum: REORG writes one more) (jobs/core/publish.py): readers move to them,
    #     since the vacuum below removes the files of the versions they read until now. A table
    #     whose published version was not its latest (a newer version failed its gate) keeps
    #     it published and is reported: that version may be vacuumed, rerun its stage.
    for name, n in report.deleted.items():
        latest, published = before[name]
        if not n or published is None:
            continue
        if published == latest:
            report.published[name] = lake.version(name)
        else:
            report.unpublished.append(name)
    publish(lake.root, report.published, ctx.run_id, "optout", f"opt-out of {len(rows)} request(s)")

    # 4. Record when the requests were applied.
    applied = now_utc()
    DeltaTable.forPath(spark, lake.path(OPTOUT_TABLE)).update(set={"applied_at": F.lit(applied)})
    report.requests_applied = len(rows)
    return report


def _purge_deletion_vectors(spark, path: str) -> None:
    """With deletion vectors on, DELETE only marks rows: rewrite the files so VACUUM can remove them."""
    props = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").collect()[0]["properties"] or {}
    if str(props.get("delta.enableDeletionVectors", "false")).lower() == "true":
        spark.sql(f"REORG TABLE delta.`{path}` APPLY (PURGE)")


def membership(ctx: StageContext, user: str) -> dict[str, list[tuple[str, int]]]:
    """{table: [(repo_name, rows), ...]} for the user's (owner's) repositories in each table,
    at its published version (what readers see; a table never published is left out)."""
    from pyspark.sql import functions as F
    kind, target = parse_target(user)
    users, repos = ([target.lower()], []) if kind == "user" else ([], [target.lower()])
    out: dict[str, list[tuple[str, int]]] = {}
    for name in TABLES:
        if "repo_name" not in _columns(name) or not ctx.lake.exists(name):
            continue
        version = ctx.lake.published_version(name)
        if version is None:
            continue
        rows = (ctx.lake.read(name, version).filter(repo_condition(users, repos))
                .groupBy("repo_name").agg(F.count("*").alias("n")).orderBy("repo_name").collect())
        out[name] = [(r["repo_name"], r["n"]) for r in rows]
    return out
