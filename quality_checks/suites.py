"""One expectation suite per lake table, as code.

`table_expectations(table, config)` lists the native GX expectations run directly on the
table's Spark DataFrame (schema, not-null keys, uniqueness, value sets, ranges). The
aggregate checks of checks.py (row accounting, thresholds per extension, PII and benchmark
scans...) are validated by GX on a one-row aggregate frame — see gates.py.

No expectation here looks at `content` beyond "is not null": GX keeps a sample of failing
values in its results and Data Docs, and file content must never land there.
"""
from __future__ import annotations

from quality_checks import settings

# The column that identifies a row of each table (used for failing-row samples).
ID_COLUMN = {
    "bronze/quarantine": "quarantine_id",
    "gold/training_docs": "doc_id",
    "gold/tokens": "seq_id",
}
FILE_TABLES = ("bronze/files", "silver/selected", "silver/filtered", "silver/deduped", "silver/redacted",
               "gold/files")
AFTER_SELECT = FILE_TABLES[1:]
AFTER_DEDUP = ("silver/deduped", "silver/redacted", "gold/files")
SHA256_HEX = r"^[0-9a-f]{64}$"


def id_column(table_name: str) -> str:
    return ID_COLUMN.get(table_name, "file_id")


def unique_columns(table_name: str) -> list[str]:
    """Columns that must be unique on their own."""
    if table_name == "silver/pii_findings":
        return []
    return [id_column(table_name)]


def table_expectations(table_name: str, config: dict) -> list:
    import great_expectations.expectations as gxe

    from schemas import table as table_def

    schema = table_def(table_name).schema
    q = settings.quality(config)
    # Column order is the lake's concern (jobs/lake.py conforms every write); names must match exactly.
    out = [gxe.ExpectTableColumnsToMatchSet(column_set=[f.name for f in schema.fields], exact_match=True)]
    if q["column_types"]:
        out += [gxe.ExpectColumnValuesToBeOfType(column=f.name, type_=type(f.dataType).__name__)
                for f in schema.fields]
    out += [gxe.ExpectColumnValuesToNotBeNull(column=f.name) for f in schema.fields if not f.nullable]
    out += [gxe.ExpectColumnValuesToBeUnique(column=c) for c in unique_columns(table_name)]

    if table_name in FILE_TABLES:
        out.append(gxe.ExpectColumnValuesToMatchRegex(column="content_sha256", regex=SHA256_HEX))
        max_bytes = (config.get("ingest") or {}).get("max_file_bytes")
        if table_name == "bronze/files" and max_bytes:
            out.append(gxe.ExpectColumnValuesToBeBetween(column="size_bytes", min_value=0, max_value=int(max_bytes)))
        else:
            out.append(gxe.ExpectColumnValuesToBeBetween(column="size_bytes", min_value=0))
    if table_name in AFTER_SELECT:
        out.append(gxe.ExpectColumnValuesToNotBeNull(column="language"))
        languages = settings.selected_languages(config)
        if languages:
            out.append(gxe.ExpectColumnValuesToBeInSet(column="language", value_set=languages))
        out.append(gxe.ExpectColumnValuesToBeInSet(column="license_type", value_set=list(settings.LICENSE_TYPES)))
    if table_name in AFTER_DEDUP:
        out.append(gxe.ExpectColumnValuesToBeUnique(column="content_sha256"))
    if table_name == "bronze/quarantine":
        out.append(gxe.ExpectColumnValuesToBeInSet(column="reason", value_set=list(settings.QUARANTINE_REASONS)))
    if table_name == "silver/dup_clusters":
        out.append(gxe.ExpectColumnValuesToBeInSet(column="method", value_set=list(settings.DEDUP_METHODS)))
    if table_name == "silver/pii_findings":
        out.append(gxe.ExpectColumnValuesToBeInSet(column="type", value_set=list(settings.PII_TYPES)))
        out.append(gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end", column_B="start"))
        out.append(gxe.ExpectColumnValuesToBeBetween(column="start", min_value=0))
    if table_name == "gold/training_docs":
        out.append(gxe.ExpectColumnValuesToBeInSet(column="format", value_set=["file", "repo", "jupyter"]))
    if table_name == "gold/tokens":
        out.append(gxe.ExpectColumnValuesToBeBetween(column="seq_id", min_value=0))
    return out
