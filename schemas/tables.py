"""The one source of every lake table's path and schema.

Jobs write with these schemas, quality checks read with them, and the trainer
finds `gold/tokens` through them. Only pyspark types are imported here.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _fields(*specs: tuple) -> list[StructField]:
    """(name, type[, nullable]) tuples → StructFields; nullable defaults to True."""
    return [StructField(s[0], s[1], s[2] if len(s) > 2 else True) for s in specs]


# Columns every file-level table carries, in this order (bronze adds provenance).
FILE_KEY = _fields(
    ("file_id", StringType(), False),
    ("repo_name", StringType(), False),
    ("path", StringType(), False),
)
FILE_BODY = _fields(
    ("content", StringType(), False),
    ("size_bytes", LongType(), False),
    ("content_sha256", StringType(), False),
    ("license", StringType()),
    ("stars", LongType()),
    ("source", StringType()),
    ("run_id", StringType(), False),
    ("ingested_at", TimestampType()),
)
SELECTION = _fields(("language", StringType()), ("extension", StringType()), ("license_type", StringType()))
# Metrics measured by the filter stage; they stay as columns of silver/filtered and downstream.
QUALITY_METRICS = _fields(
    ("line_count", LongType()),
    ("max_line_length", LongType()),
    ("avg_line_length", DoubleType()),
    ("alphanum_fraction", DoubleType()),
    ("alpha_fraction", DoubleType()),
    ("encoded_fraction", DoubleType()),
    ("encoded_max_run", LongType()),  # longest base64/hex/\uXXXX run (chars), docs/recipe.md §3.7
)

BRONZE_FILES = StructType(FILE_KEY + FILE_BODY)
SELECTED = StructType(FILE_KEY + FILE_BODY + SELECTION)
FILTERED = StructType(FILE_KEY + FILE_BODY + SELECTION + QUALITY_METRICS)

QUARANTINE = StructType(_fields(
    ("quarantine_id", StringType(), False),  # stable: sha256 of (source, locator)
    ("source", StringType(), False),         # input file the record came from
    ("locator", StringType(), False),        # line number, member path... where inside the source
    ("repo_name", StringType()),
    ("path", StringType()),
    ("reason", StringType(), False),         # invalid_utf8 | binary | oversized | malformed_json | missing_field | unreadable
    ("detail", StringType()),
    ("size_bytes", LongType()),
    ("run_id", StringType(), False),
    ("ingested_at", TimestampType()),
))

# What an incremental ingest found changed (jobs/core/incremental.py): one row per file that
# was added, changed (same file_id, new content_sha256) or deleted (its repository came
# again without it) in the run. Unchanged files are not listed.
CHANGES = StructType(FILE_KEY + _fields(
    ("change", StringType(), False),          # added | changed | deleted
    ("content_sha256", StringType()),         # the new content's hash (null when deleted)
    ("previous_sha256", StringType()),        # the hash bronze held before (null when added)
    ("run_id", StringType(), False),
    ("recorded_at", TimestampType()),
))

REJECTIONS = StructType(FILE_KEY + _fields(
    ("stage", StringType(), False),
    ("reason", StringType(), False),
    ("detail", StringType()),
    ("size_bytes", LongType()),
    ("language", StringType()),
    ("run_id", StringType(), False),
    ("rejected_at", TimestampType()),
))

DUP_CLUSTERS = StructType(FILE_KEY + _fields(
    ("cluster_id", StringType(), False),
    ("method", StringType(), False),  # exact | near
    ("kept", BooleanType(), False),
    ("run_id", StringType(), False),
))

MINHASH_SIGNATURES = StructType(FILE_KEY + _fields(
    ("signature", ArrayType(LongType()), False),  # num_perm uint32 minima; empty = too few tokens
    ("run_id", StringType(), False),
    ("content_sha256", StringType()),   # the content the signature was computed from
    ("minhash_params", StringType()),   # udfs.minhash.MinHashParams.key(): hash family used
))

PII_FINDINGS = StructType(_fields(
    ("file_id", StringType(), False),
    ("type", StringType(), False),      # EMAIL | IP_ADDRESS | KEY | PASSWORD | NAME | USERNAME
    ("start", IntegerType(), False),    # character offsets into the original content
    ("end", IntegerType(), False),
    ("detector", StringType(), False),  # which rule or model found it; never the value
    ("run_id", StringType(), False),
))

TRAINING_DOCS = StructType(_fields(
    ("doc_id", StringType(), False),
    ("repo_name", StringType(), False),
    ("language", StringType()),
    ("file_ids", ArrayType(StringType()), False),
    ("text", StringType(), False),
    ("format", StringType(), False),   # file | repo | jupyter
    ("run_id", StringType(), False),
))

TOKENS = StructType(_fields(
    ("seq_id", LongType(), False),     # position in the shuffled order the trainer reads
    ("input_ids", ArrayType(IntegerType(), False), False),
    ("doc_ids", ArrayType(StringType(), False), False),  # gold/training_docs documents it holds tokens of
    ("run_id", StringType(), False),
))

RUNS = StructType(_fields(
    ("run_id", StringType(), False),
    ("stage", StringType(), False),
    ("status", StringType(), False),   # succeeded | failed
    ("started_at", TimestampType(), False),
    ("seconds", DoubleType(), False),
    ("rows_in", LongType()),
    ("rows_kept", LongType()),
    ("rows_rejected", LongType()),
    ("rejected_by_reason", MapType(StringType(), LongType())),
    ("bytes_in", LongType()),
    ("bytes_kept", LongType()),
    ("versions_read", MapType(StringType(), LongType())),
    ("versions_written", MapType(StringType(), LongType())),
    ("metrics", MapType(StringType(), StringType())),  # stage-specific figures, e.g. tokens per language
))

DQ_RESULTS = StructType(_fields(
    ("run_id", StringType(), False),
    ("stage", StringType(), False),
    ("table_name", StringType(), False),
    ("expectation", StringType(), False),
    ("success", BooleanType(), False),
    ("unexpected_count", LongType()),
    ("sample_file_ids", ArrayType(StringType())),
    ("detail", StringType()),
    ("table_version", LongType()),
    ("checked_at", TimestampType(), False),
))

# Write-audit-publish (docs/operations.md): one row per publication of a table version. The
# current published version of a table is its newest row; readers (later stages, train,
# report, card, membership, the DAG's asset) read that version, never the latest.
PUBLISHED = StructType(_fields(
    ("table_name", StringType(), False),
    ("version", LongType(), False),
    ("run_id", StringType(), False),
    ("stage", StringType(), False),     # the stage whose gate passed, or rollback | optout
    ("published_at", TimestampType(), False),
    ("note", StringType()),
))

OPTOUT = StructType(_fields(
    ("request_id", StringType(), False),
    ("kind", StringType(), False),      # user | repo
    ("target", StringType(), False),    # "alice" or "alice/project"
    ("requested_at", TimestampType(), False),
    ("applied_at", TimestampType()),
))

# One row per table per applied opt-out batch: what went, no names (jobs/stages/governance.py).
OPTOUT_LOG = StructType(_fields(
    ("applied_at", TimestampType(), False),
    ("requests", LongType(), False),           # requests in the batch
    ("table_name", StringType(), False),
    ("rows_deleted", LongType(), False),
    ("version_before", LongType()),            # the table's latest version before the batch
    ("version_after", LongType()),
    ("vacuumed", BooleanType(), False),
    ("checked_versions", ArrayType(LongType())),  # gold/training_docs, gold/tokens: versions looked into
    ("holding_versions", ArrayType(LongType())),  # ... of those, the ones that held removed rows
))


@dataclass(frozen=True)
class Table:
    name: str            # lake-relative path, also the table's name in reports
    schema: StructType
    partition_by: tuple[str, ...] = ()


TABLES: dict[str, Table] = {t.name: t for t in [
    Table("bronze/files", BRONZE_FILES),
    Table("bronze/quarantine", QUARANTINE),
    Table("bronze/changes", CHANGES),
    Table("silver/selected", SELECTED),
    Table("silver/filtered", FILTERED),
    Table("silver/deduped", FILTERED),
    Table("silver/dup_clusters", DUP_CLUSTERS),
    Table("silver/minhash_signatures", MINHASH_SIGNATURES),
    Table("silver/redacted", FILTERED),
    Table("silver/pii_findings", PII_FINDINGS),
    Table("silver/rejections", REJECTIONS, ("stage",)),
    Table("gold/files", FILTERED),
    Table("gold/training_docs", TRAINING_DOCS),
    Table("gold/tokens", TOKENS),
    Table("ops/runs", RUNS),
    Table("ops/dq_results", DQ_RESULTS),
    Table("ops/published", PUBLISHED),
    Table("governance/optout", OPTOUT),
    Table("governance/optout_log", OPTOUT_LOG),
]}


def register(new: Table) -> Table:
    """Add a table a stage module introduces (its module declares it next to the stage, so a
    new stage is one module and one registry line). A name already taken is an error."""
    if new.name in TABLES and TABLES[new.name] != new:
        raise ValueError(f"lake table {new.name!r} is already declared with another schema")
    TABLES[new.name] = new
    return new


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown lake table {name!r}; known: {', '.join(sorted(TABLES))}") from None
