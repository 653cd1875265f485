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
import time
from dataclasses import dataclass, field

from jobs.core.errors import UserError
from jobs.core.publish import publish
from jobs.core.stage import StageContext, now_utc
from schemas import TABLES

OPTOUT_TABLE = "governance/optout"
OPTOUT_LOG = "governance/optout_log"
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})$")


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
    return add_requests(ctx, [target])[0]


def add_requests(ctx: StageContext, targets: list[str]) -> list[tuple[str, bool]]:
    """Record a batch of opt-out requests in one commit; (request_id, newly_added) for each."""
    from schemas import table as table_def
    parsed = [parse_target(t) for t in targets]
    ids = [request_id(kind, target) for kind, target in parsed]
    lake = ctx.lake
    known = ({r["request_id"] for r in lake.read(OPTOUT_TABLE).select("request_id").collect()}
             if lake.exists(OPTOUT_TABLE) else set())
    now, rows, out = now_utc(), [], []
    for (kind, target), rid in zip(parsed, ids):
        new = rid not in known
        if new:
            known.add(rid)
            rows.append({"request_id": rid, "kind": kind, "target": target, "requested_at": now, "applied_at": None})
        out.append((rid, new))
    if rows:
        lake.append(ctx.spark.createDataFrame(rows, table_def(OPTOUT_TABLE).schema), OPTOUT_TABLE)
    return out


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
    requests_applied: int = 0
    published: dict[str, int] = field(default_factory=dict)  # table -> its new published version
    unpublished: list[str] = field(default_factory=list)     # tables whose published version was not the latest
    seconds: float = 0.0


def _columns(name: str) -> set[str]:
    return {f.name for f in TABLES[name].schema.fields}


def _quote(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def apply_optouts(ctx: StageContext, vacuum: bool = True) -> ApplyReport:
    """Remove every opted-out repository from every lake table, at every readable version.

    One pass per table for the whole batch of requests (docs/operations.md, "Opt-out"):
    1. the removed rows' ids are collected once: file_ids (from the file tables) for tables
       that carry only a file_id, doc_ids (gold/training_docs) for gold/tokens, whose
       sequences name the documents they hold tokens of;
    2. the versions of gold/training_docs and gold/tokens that held them are found while
       they are still readable, and recorded in governance/optout_log with the counts (no
       names), for `codemill lineage --affected-by-optout` and the dataset card;
    3. one Delta DELETE per table that holds such rows;
    4. VACUUM with zero retention of every table holding repository data (deletion vectors
       purged first), so no older version can be read back, touched by this batch or not;
    5. the new versions are published (readers read them; the old files are gone), and the
       requests are marked applied."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    rows = requests(ctx)
    users, repos = _targets(rows)
    report = ApplyReport()
    if not rows:
        return report
    lake, spark = ctx.lake, ctx.spark
    existing = [n for n in TABLES if not n.startswith(("ops/", "governance/")) and lake.exists(n)]
    condition = _sql_condition(users, repos)
    before = {n: (lake.version(n), lake.published_version(n)) for n in existing}

    # 1. ids of what goes
    file_ids = _collect(lake, [n for n in ("bronze/files", "silver/redacted", "gold/files") if n in existing],
                        condition, "file_id")
    doc_ids = _collect(lake, ["gold/training_docs"] if "gold/training_docs" in existing else [], condition, "doc_id")
    deletes: dict[str, str] = {}
    for name in existing:
        cols = _columns(name)
        if "repo_name" in cols:
            deletes[name] = condition
        elif "file_id" in cols and file_ids:
            deletes[name] = f"file_id IN ({_quote(file_ids)})"
        elif "doc_ids" in cols and doc_ids:
            deletes[name] = f"arrays_overlap(doc_ids, array({_quote(doc_ids)}))"
    ctx.log(f"optout: {len(rows)} request(s): {len(file_ids)} files, {len(doc_ids)} training documents")

    # 2. which versions held them, while those are readable
    lineage = _versions_holding(ctx, condition) if "gold/training_docs" in existing else {}

    # 3. one DELETE per table (the commit's metrics count the rows)
    for name, cond in deletes.items():
        version = lake.version(name)
        DeltaTable.forPath(spark, lake.path(name)).delete(cond)
        report.deleted[name] = _deleted_rows(lake.path(name), version)
        ctx.log(f"optout: {name}: {report.deleted[name]} rows deleted")

    # 4. no older version readable: vacuum every table that holds repository data
    if vacuum:
        for name in existing:
            _purge_and_vacuum(spark, lake.path(name))
            report.vacuumed.append(name)

    # 5. publish what readers read now, record, mark applied
    for name in existing:
        latest, published = before[name]
        if published is None or not (report.deleted.get(name) or name in report.vacuumed):
            continue
        if published == latest:
            report.published[name] = lake.version(name)
        elif report.vacuumed:
            report.unpublished.append(name)
    publish(lake.root, report.published, ctx.run_id, "optout", f"opt-out of {len(rows)} request(s)")
    applied = now_utc()
    _log_batch(lake, applied, len(rows), report, before, lineage)
    DeltaTable.forPath(spark, lake.path(OPTOUT_TABLE)).update(condition="applied_at IS NULL",
                                                             set={"applied_at": F.lit(applied)})
    report.requests_applied = len(rows)
    report.seconds = time.perf_counter() - t0
    return report


def _collect(lake, tables: list[str], condition: str, column: str) -> list[str]:
    """Distinct values of `column` of the rows matching `condition`, over `tables` (one job)."""
    frames = [lake.read(n).where(condition).select(column) for n in tables]
    if not frames:
        return []
    union = frames[0]
    for other in frames[1:]:
        union = union.unionByName(other)
    return sorted(r[column] for r in union.distinct().collect())


def _deleted_rows(path: str, version_before: int) -> int:
    """Rows the DELETE committed after `version_before` removed (0 when it committed nothing)."""
    from deltalake import DeltaTable as RsTable
    table = RsTable(path)
    if table.version() == version_before:
        return 0
    metrics = (table.history(1)[0].get("operationMetrics") or {})
    return int(metrics.get("numDeletedRows", 0) or 0)


def _purge_and_vacuum(spark, path: str) -> None:
    """Files of older versions removed (zero retention); with deletion vectors on, DELETE only
    marks rows, so the files are rewritten first."""
    from delta.tables import DeltaTable
    props = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").collect()[0]["properties"] or {}
    if str(props.get("delta.enableDeletionVectors", "false")).lower() == "true":
        spark.sql(f"REORG TABLE delta.`{path}` APPLY (PURGE)")
    key = "spark.databricks.delta.retentionDurationCheck.enabled"
    previous = spark.conf.get(key, "true")
    spark.conf.set(key, "false")
    try:
        DeltaTable.forPath(spark, path).vacuum(0)
    finally:
        spark.conf.set(key, previous)


def _versions_holding(ctx: StageContext, condition: str) -> dict[str, dict]:
    """{table: {"checked": [...], "holding": [...]}} for gold/training_docs and gold/tokens:
    the versions still readable, and those of them that hold rows of the batch. A tokens
    version is checked through the training_docs version its tokenize run read (ops/runs),
    so tables written before gold/tokens had doc_ids are covered too. Versions not checked
    (vacuumed earlier) count as holding them (`affected`)."""
    from jobs.core.delta_read import query
    lake = ctx.lake
    docs_latest = lake.version("gold/training_docs")
    checked, holding = [], []
    for v in range(docs_latest + 1):
        try:  # reads the files (a filter), so a vacuumed version fails instead of answering from the log
            held = lake.read("gold/training_docs", v).where(condition).limit(1).count() > 0
        except Exception:  # vacuumed by an earlier apply, or past the log's retention: not checked
            continue
        checked.append(v)
        if held:
            holding.append(v)
    out = {"gold/training_docs": {"checked": checked, "holding": holding}}
    if lake.exists("gold/tokens") and lake.exists("ops/runs"):
        runs = query(str(lake.root / "ops" / "runs"),
                     "SELECT versions_read, versions_written FROM t WHERE stage = 'tokenize' AND status = 'succeeded'")
        t_checked, t_holding = [], []
        for r in runs.to_pylist():
            written = dict(r["versions_written"] or []).get("gold/tokens")
            read = dict(r["versions_read"] or []).get("gold/training_docs")
            if written is None or read is None or int(read) not in checked:
                continue
            t_checked.append(int(written))
            if int(read) in holding:
                t_holding.append(int(written))
        out["gold/tokens"] = {"checked": sorted(set(t_checked)), "holding": sorted(set(t_holding))}
    return out


def _log_batch(lake, applied, n_requests: int, report: ApplyReport, before: dict, lineage: dict) -> None:
    """One row per table of governance/optout_log for this batch: counts and versions, no names."""
    from schemas import table as table_def
    names = sorted(set(report.deleted) | set(report.vacuumed) | set(lineage))
    rows = []
    for name in names:
        versions = lineage.get(name, {})
        rows.append({"applied_at": applied, "requests": n_requests, "table_name": name,
                     "rows_deleted": int(report.deleted.get(name, 0)), "version_before": before[name][0],
                     "version_after": lake.version(name), "vacuumed": name in report.vacuumed,
                     "checked_versions": versions.get("checked"), "holding_versions": versions.get("holding")})
    if rows:
        lake.append(lake.spark.createDataFrame(rows, table_def(OPTOUT_LOG).schema), OPTOUT_LOG)


def optout_log(lake_root) -> list[dict]:
    """Every applied batch's rows of governance/optout_log, oldest first ([] when none)."""
    from deltalake.exceptions import TableNotFoundError

    from jobs.core.delta_read import query
    try:
        return sorted(query(f"{lake_root}/{OPTOUT_LOG}", "SELECT * FROM t").to_pylist(),
                      key=lambda r: (r["applied_at"], r["table_name"]))
    except TableNotFoundError:
        return []


def version_affected(log_rows: list[dict], table: str, version: int) -> bool:
    """Whether `table` at `version` held rows an applied opt-out removed: a version the
    batch found holding them, or one it could not check (older than its apply, unreadable)."""
    for r in log_rows:
        if r["table_name"] != table or r["version_before"] is None or version > r["version_before"]:
            continue
        if r["holding_versions"] is None:  # nothing of this table was traced (no rows of it went)
            if r["rows_deleted"]:
                return True
            continue
        if version in r["holding_versions"] or version not in (r["checked_versions"] or []):
            return True
    return False


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
