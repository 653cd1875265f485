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

import datetime as dt
import hashlib
import re
import time
from dataclasses import dataclass, field

from jobs.core.delta_read import query
from jobs.core.errors import UserError
from jobs.core.logs import get_logger
from jobs.core.publish import current, publish, table_path
from jobs.core.stage import StageContext
from schemas import TABLES

_log = get_logger(__name__)

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


def add_request(lake_root, target: str) -> tuple[str, bool]:
    """Record an opt-out request; returns (request_id, newly_added)."""
    return add_requests(lake_root, [target])[0]


def add_requests(lake_root, targets: list[str]) -> list[tuple[str, bool]]:
    """Record a batch of opt-out requests in one commit; (request_id, newly_added) for each.
    Written with delta-rs on the driver: no Spark session is started for it."""
    import pyarrow as pa
    from deltalake import write_deltalake
    parsed = [parse_target(t) for t in targets]
    ids = [request_id(kind, target) for kind, target in parsed]
    known = {r["request_id"] for r in requests(lake_root)}
    now, rows, out = dt.datetime.now(dt.timezone.utc), [], []
    for (kind, target), rid in zip(parsed, ids):
        new = rid not in known
        if new:
            known.add(rid)
            rows.append({"request_id": rid, "kind": kind, "target": target, "requested_at": now, "applied_at": None})
        out.append((rid, new))
    if rows:
        write_deltalake(table_path(lake_root, OPTOUT_TABLE), pa.Table.from_pylist(rows, schema=_arrow_schema(OPTOUT_TABLE)),
                        mode="append")
    return out


def requests(lake_root) -> list[dict]:
    """Every recorded request, oldest first ([] when none was ever recorded)."""
    if not _exists(lake_root, OPTOUT_TABLE):
        return []
    return sorted(query(table_path(lake_root, OPTOUT_TABLE), "SELECT * FROM t").to_pylist(),
                  key=lambda r: (r["requested_at"], r["request_id"]))


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
    users, repos = _targets(requests(ctx.lake.root))
    if not users and not repos:
        return None
    return repo_condition(users, repos)


def _sql_condition(users: list[str], repos: list[str]) -> str:
    """The same condition as `repo_condition`, as SQL for delta-rs (DataFusion)."""
    parts = []
    if users:
        parts.append(f"lower(split_part(repo_name, '/', 1)) IN ({_quote(users)})")
    if repos:
        parts.append(f"lower(repo_name) IN ({_quote(repos)})")
    return " OR ".join(parts) or "false"


@dataclass
class ApplyReport:
    deleted: dict[str, int] = field(default_factory=dict)    # table -> rows deleted
    vacuumed: list[str] = field(default_factory=list)
    requests_applied: int = 0
    published: dict[str, int] = field(default_factory=dict)  # table -> its new published version
    unpublished: list[str] = field(default_factory=list)     # tables whose published version was not the latest
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)   # phase -> seconds


def _columns(name: str) -> set[str]:
    return {f.name for f in TABLES[name].schema.fields}


def _quote(values) -> str:
    from jobs.core.delta_read import sql_literal
    return ", ".join(sql_literal(v) for v in values)


def _exists(lake_root, name: str) -> bool:
    from deltalake import DeltaTable
    return DeltaTable.is_deltatable(table_path(lake_root, name))


def _arrow_schema(name: str):
    from pyspark.sql.pandas.types import to_arrow_schema
    return to_arrow_schema(TABLES[name].schema)


def apply_optouts(lake_root, run_id: str, vacuum: bool = True, log=None) -> ApplyReport:
    """Remove every opted-out repository from every lake table, at every readable version.

    One pass per table for the whole batch of requests (docs/operations.md, "Opt-out"):
    1. the removed rows' ids are collected once: file_ids (from the file tables) for tables
       that carry only a file_id, seq_ids of gold/tokens whose sequences hold a token of a
       removed document (doc_ids from gold/training_docs);
    2. the versions of gold/training_docs and gold/tokens that held them are found while
       they are still readable, and recorded in governance/optout_log with the counts (no
       names), for `codemill lineage --affected-by-optout` and the dataset card;
    3. one Delta DELETE per table that holds such rows (only its data files holding them are
       rewritten);
    4. VACUUM with zero retention of every table holding repository data, so no older
       version can be read back, touched by this batch or not;
    5. the new versions are published (readers read them; the old files are gone), and the
       requests are marked applied.
    All of it runs on the driver with delta-rs (Rust, multi-threaded): no Spark job, no JVM.
    An opt-out batch changes a small share of the rows, and a Spark DELETE plus VACUUM cost
    about 20 s of fixed work per table (benchmarks/optout_batch.py)."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    log = log or _log.info
    t0 = time.perf_counter()
    report = ApplyReport()
    rows = requests(lake_root)
    if not rows:
        return report
    users, repos = _targets(rows)
    mark = [t0]

    def phase(name: str) -> None:
        now = time.perf_counter()
        report.phases[name] = report.phases.get(name, 0.0) + now - mark[0]
        mark[0] = now

    existing = [n for n in TABLES if not n.startswith(("ops/", "governance/")) and _exists(lake_root, n)]
    tables = {n: DeltaTable(table_path(lake_root, n)) for n in existing}
    for name, table in tables.items():
        features = set(table.protocol().writer_features or [])
        if "deletionVectors" in features:
            raise UserError(f"{name} has deletion vectors enabled; codemill writes none. Purge them first "
                            f"(Spark: REORG TABLE delta.`{table_path(lake_root, name)}` APPLY (PURGE)) and disable "
                            "delta.enableDeletionVectors, then rerun `codemill optout apply`")
    condition = _sql_condition(users, repos)
    seen = {n: int(row["version"]) for n, row in current(lake_root).items()}  # ops/published, read once
    before = {n: (tables[n].version(), seen.get(n)) for n in existing}

    # 1. ids of what goes
    file_ids = _collect(lake_root, [n for n in ("bronze/files", "silver/redacted", "gold/files") if n in existing],
                        condition, "file_id")
    doc_ids = _collect(lake_root, ["gold/training_docs"] if "gold/training_docs" in existing else [],
                       condition, "doc_id")
    deletes: dict[str, str] = {}
    for name in existing:
        cols = _columns(name)
        if "repo_name" in cols:
            deletes[name] = condition
        elif "file_id" in cols and file_ids:
            deletes[name] = f"file_id IN ({_quote(file_ids)})"
        elif "doc_ids" in cols and doc_ids:
            seq_ids = query(table_path(lake_root, name), f"SELECT seq_id FROM t WHERE array_has_any(doc_ids, "
                            f"make_array({_quote(doc_ids)}))").column("seq_id").to_pylist()
            if seq_ids:
                deletes[name] = f"seq_id IN ({', '.join(str(int(s)) for s in seq_ids)})"
    log(f"optout: {len(rows)} request(s): {len(file_ids)} files, {len(doc_ids)} training documents")
    phase("collect")

    # 2. which versions held them, while those are readable
    lineage = _versions_holding(lake_root, condition) if "gold/training_docs" in existing else {}
    phase("versions")

    # 3. one DELETE per table (only the data files holding such rows are rewritten)
    for name, cond in deletes.items():
        metrics = tables[name].delete(cond)
        report.deleted[name] = int(metrics.get("num_deleted_rows") or 0)
        log(f"optout: {name}: {report.deleted[name]} rows deleted "
            f"({metrics.get('num_removed_files', 0)} data files rewritten)")
    phase("delete")

    # 4. no older version readable: vacuum every table that holds repository data
    if vacuum:
        for name in existing:
            DeltaTable(table_path(lake_root, name)).vacuum(retention_hours=0, dry_run=False,
                                                      enforce_retention_duration=False, full=True)
            report.vacuumed.append(name)
    phase("vacuum")

    # 5. publish what readers read now, record, mark applied
    after = {n: DeltaTable(table_path(lake_root, n)).version() for n in existing}
    for name in existing:
        latest, published = before[name]
        if published is None or not (report.deleted.get(name) or name in report.vacuumed):
            continue
        if published == latest:
            report.published[name] = after[name]
        elif report.vacuumed:
            report.unpublished.append(name)
    publish(lake_root, report.published, run_id, "optout", f"opt-out of {len(rows)} request(s)")
    applied = dt.datetime.now(dt.timezone.utc)
    log_rows = _log_rows(applied, len(rows), report, before, after, lineage)
    if log_rows:
        write_deltalake(table_path(lake_root, OPTOUT_LOG), pa.Table.from_pylist(log_rows, schema=_arrow_schema(OPTOUT_LOG)),
                        mode="append")
    DeltaTable(table_path(lake_root, OPTOUT_TABLE)).update(new_values={"applied_at": applied},
                                                      predicate="applied_at IS NULL")
    phase("publish")
    report.requests_applied = len(rows)
    report.seconds = time.perf_counter() - t0
    return report


def _collect(lake_root, tables: list[str], condition: str, column: str) -> list[str]:
    """Distinct values of `column` of the rows matching `condition`, over `tables`."""
    values: set[str] = set()
    for name in tables:
        values.update(query(table_path(lake_root, name), f"SELECT DISTINCT {column} FROM t WHERE {condition}"
                            ).column(column).to_pylist())
    return sorted(values)


def _version_files_present(table) -> bool:
    """Whether every data file of the table's loaded version is still there (not vacuumed).
    A query alone could answer from the statistics in the log without opening a file."""
    import pyarrow.fs as pafs
    uris = table.file_uris()
    if not uris:
        return True
    fs, _ = pafs.FileSystem.from_uri(uris[0])
    paths = [pafs.FileSystem.from_uri(u)[1] for u in uris]
    return all(info.type != pafs.FileType.NotFound for info in fs.get_file_info(paths))


def _versions_holding(lake_root, condition: str) -> dict[str, dict]:
    """{table: {"checked": [...], "holding": [...]}} for gold/training_docs and gold/tokens:
    the versions still readable, and those of them that hold rows of the batch. A tokens
    version is checked through the training_docs version its tokenize run read (ops/runs),
    so tables written before gold/tokens had doc_ids are covered too. Versions not checked
    (vacuumed earlier) count as holding them (`affected`)."""
    from deltalake import DeltaTable
    path = table_path(lake_root, "gold/training_docs")
    docs_latest = DeltaTable(path).version()
    checked, holding = [], []
    for v in range(docs_latest + 1):
        try:
            table = DeltaTable(path, version=v)
            if not _version_files_present(table):
                continue  # vacuumed by an earlier apply
            held = query(path, f"SELECT 1 AS x FROM t WHERE {condition} LIMIT 1", version=v).num_rows > 0
        except Exception:  # noqa: BLE001 - past the log's retention, or a file vanished meanwhile
            continue
        checked.append(v)
        if held:
            holding.append(v)
    out = {"gold/training_docs": {"checked": checked, "holding": holding}}
    if _exists(lake_root, "gold/tokens") and _exists(lake_root, "ops/runs"):
        runs = query(table_path(lake_root, "ops/runs"),
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


def _log_rows(applied, n_requests: int, report: ApplyReport, before: dict, after: dict, lineage: dict) -> list[dict]:
    """One row per table of governance/optout_log for this batch: counts and versions, no names."""
    rows = []
    for name in sorted(set(report.deleted) | set(report.vacuumed) | set(lineage)):
        versions = lineage.get(name, {})
        rows.append({"applied_at": applied, "requests": n_requests, "table_name": name,
                     "rows_deleted": int(report.deleted.get(name, 0)), "version_before": before[name][0],
                     "version_after": after[name], "vacuumed": name in report.vacuumed,
                     "checked_versions": versions.get("checked"), "holding_versions": versions.get("holding")})
    return rows


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
