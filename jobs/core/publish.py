"""Write-audit-publish: which version of each lake table readers see (docs/operations.md).

A stage writes a new Delta version of its tables; its gate validates exactly that version;
when the gate passes, the versions are recorded in `ops/published` (one row per
publication). Every reader - later stages run alone, `codemill train`, `report`, `card`,
`membership`, the curation DAG's asset - resolves a table through `published_version`,
never the table's latest version, so a version whose gate failed (or never ran) is
invisible to them. A rollback is one more row pointing at an older version.

Read and written with delta-rs on the driver (milliseconds, no Spark job), so the trainer
resolves the published version of gold/tokens without a Spark session.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from jobs.core.delta_read import query

PUBLISHED = "ops/published"


def table_path(lake_root: str | Path, name: str) -> str:
    return f"{str(lake_root).rstrip('/')}/{name}"


def published_rows(lake_root: str | Path) -> list[dict]:
    """Every publication, oldest first ([] when nothing was ever published)."""
    from deltalake.exceptions import TableNotFoundError
    try:
        table = query(table_path(lake_root, PUBLISHED), "SELECT * FROM t")
    except TableNotFoundError:
        return []
    return sorted(table.to_pylist(), key=lambda r: r["published_at"])


def current(lake_root: str | Path) -> dict[str, dict]:
    """{table: its newest publication row}."""
    out: dict[str, dict] = {}
    for row in published_rows(lake_root):
        out[row["table_name"]] = row
    return out


def published_version(lake_root: str | Path, table: str) -> int | None:
    """The version of `table` readers see: its newest publication (None: never published)."""
    row = current(lake_root).get(table)
    return None if row is None else int(row["version"])


def publish(lake_root: str | Path, versions: dict[str, int], run_id: str, stage: str, note: str = "") -> None:
    """Record `versions` ({table: version}) as the published versions, in one commit."""
    if not versions:
        return
    import pyarrow as pa
    from deltalake import write_deltalake
    now = dt.datetime.now(dt.timezone.utc)
    schema = pa.schema([pa.field("table_name", pa.string(), False), pa.field("version", pa.int64(), False),
                        pa.field("run_id", pa.string(), False), pa.field("stage", pa.string(), False),
                        pa.field("published_at", pa.timestamp("us", tz="UTC"), False),
                        pa.field("note", pa.string(), True)])
    names = sorted(versions)
    rows = pa.table({"table_name": names, "version": [int(versions[n]) for n in names],
                     "run_id": [run_id] * len(names), "stage": [stage] * len(names),
                     "published_at": [now] * len(names), "note": [note or None] * len(names)}, schema=schema)
    write_deltalake(table_path(lake_root, PUBLISHED), rows, mode="append")


def still_seen(lake_root: str | Path, tables, version_of=None) -> str:
    """'readers still see T version N, ...' for the message of a gate that did not publish.
    `version_of(table)` looks the version up (a Spark driver passes Lake.published_version)."""
    version_of = version_of or (lambda t: published_version(lake_root, t))
    parts = []
    for t in tables:
        v = version_of(t)
        parts.append(f"{t} version {v}" if v is not None else f"no version of {t} (none published yet)")
    return "readers still see " + ", ".join(parts)


def gate_failed(lake_root: str | Path, run_id: str, stage: str) -> bool:
    """Whether the newest gate evaluation of (run, stage) in ops/dq_results has a failure."""
    import pyarrow.compute as pc
    from deltalake.exceptions import TableNotFoundError
    from jobs.core.delta_read import sql_literal
    try:
        rows = query(table_path(lake_root, "ops/dq_results"),
                      f"SELECT checked_at, success FROM t WHERE run_id = {sql_literal(run_id)} AND stage = {sql_literal(stage)}")
    except TableNotFoundError:
        return False
    if rows.num_rows == 0:
        return False
    newest = rows.filter(pc.equal(rows["checked_at"], pc.max(rows["checked_at"])))
    return not pc.all(newest["success"]).as_py()


def version_readable(lake_root: str | Path, table: str, version: int) -> bool:
    """Whether `table` can still be read at `version` (not vacuumed, not past the log)."""
    try:
        query(table_path(lake_root, table), "SELECT count(*) AS n FROM t", version=int(version))
        return True
    except Exception:  # deltalake raises several kinds for a missing version or removed files
        return False
