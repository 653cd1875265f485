"""One expectation suite per lake table, as code.

`table_expectations(table, config)` lists the native GX expectations run directly on the
table's Spark DataFrame (schema, not-null keys, uniqueness, value sets, ranges). The
aggregate checks of checks.py (row accounting, thresholds per extension, PII and benchmark
scans...) are validated by GX on a one-row aggregate frame — see gates.py.

No expectation here looks at `content` beyond "is not null": GX keeps a sample of failing
values in its results and Data Docs, and file content must never land there.
"""
from __future__ import annotations

from jobs.core.config import LICENSE_TYPES, PII_TYPES, PipelineConfig
from jobs.stages import STAGES, stage_names
from schemas import TABLES
from udfs.ingest import QUARANTINE_REASONS

DEDUP_METHODS = ("exact", "near")
# The column that identifies a row of each table (used for failing-row samples).
ID_COLUMN = {
    "bronze/quarantine": "quarantine_id",
    "gold/training_docs": "doc_id",
    "gold/tokens": "seq_id",
}
# Tables of files (one row per file with its content), those with a language (select and
# after), and those whose content is unique (written by dedup and the stages after it).
FILE_TABLES = tuple(name for name, t in TABLES.items()
                    if {"file_id", "content", "content_sha256"} <= set(t.schema.fieldNames()))
AFTER_SELECT = tuple(name for name in FILE_TABLES if "language" in TABLES[name].schema.fieldNames())
AFTER_DEDUP = tuple(t for s in STAGES[stage_names().index("dedup"):] for t in s.outputs if t in FILE_TABLES)
SHA256_HEX = r"^[0-9a-f]{64}$"


def id_column(table_name: str) -> str:
    return ID_COLUMN.get(table_name, "file_id")


def unique_columns(table_name: str) -> list[str]:
    """Columns that must be unique on their own."""
    if table_name == "silver/pii_findings":
        return []
    return [id_column(table_name)]


def table_expectations(table_name: str, config: PipelineConfig) -> list:
    import great_expectations.expectations as gxe

    from schemas import table as table_def

    schema = table_def(table_name).schema
    q = config.quality
    # Column order is the lake's concern (jobs/lake.py conforms every write); names must match exactly.
    out = [gxe.ExpectTableColumnsToMatchSet(column_set=[f.name for f in schema.fields], exact_match=True)]
    if q.column_types:
        out += [gxe.ExpectColumnValuesToBeOfType(column=f.name, type_=type(f.dataType).__name__)
                for f in schema.fields]
    out += [gxe.ExpectColumnValuesToNotBeNull(column=f.name) for f in schema.fields if not f.nullable]
    out += [gxe.ExpectColumnValuesToBeUnique(column=c) for c in unique_columns(table_name)]

    if table_name in FILE_TABLES:
        out.append(gxe.ExpectColumnValuesToMatchRegex(column="content_sha256", regex=SHA256_HEX))
        if table_name == "bronze/files":
            out.append(gxe.ExpectColumnValuesToBeBetween(column="size_bytes", min_value=0,
                                                         max_value=config.ingest.max_file_bytes))
        else:
            out.append(gxe.ExpectColumnValuesToBeBetween(column="size_bytes", min_value=0))
    if table_name in AFTER_SELECT:
        out.append(gxe.ExpectColumnValuesToNotBeNull(column="language"))
        if config.select.languages:
            out.append(gxe.ExpectColumnValuesToBeInSet(column="language", value_set=sorted(config.select.languages)))
        out.append(gxe.ExpectColumnValuesToBeInSet(column="license_type", value_set=list(LICENSE_TYPES)))
    if table_name in AFTER_DEDUP:
        out.append(gxe.ExpectColumnValuesToBeUnique(column="content_sha256"))
    if table_name == "bronze/quarantine":
        out.append(gxe.ExpectColumnValuesToBeInSet(column="reason", value_set=list(QUARANTINE_REASONS)))
    if table_name == "silver/dup_clusters":
        out.append(gxe.ExpectColumnValuesToBeInSet(column="method", value_set=list(DEDUP_METHODS)))
    if table_name == "silver/pii_findings":
        out.append(gxe.ExpectColumnValuesToBeInSet(column="type", value_set=list(PII_TYPES)))
        out.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end", column_B="start"))
        out.append(gxe.ExpectColumnValuesToBeBetween(column="start", min_value=0))
    if table_name == "gold/training_docs":
        out.append(gxe.ExpectColumnValuesToBeInSet(column="format", value_set=["file", "repo", "jupyter"]))
    if table_name == "gold/tokens":
        out.append(gxe.ExpectColumnValuesToBeBetween(column="seq_id", min_value=0))
    return out
