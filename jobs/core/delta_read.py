"""Reading Delta tables outside Spark (driver-side checks, the trainer, benchmarks).

Everything goes through delta-rs' own query engine (QueryBuilder), never
DeltaTable.to_pyarrow_table / to_pyarrow_dataset: with pyarrow 26 and deltalake 1.6 a
process that scanned through the pyarrow dataset aborts at exit ("terminate called without
an active exception", exit code 134), which failed the curation DAG's publish task,
`spark-submit` of a stage and training runs that had otherwise finished.
"""
from __future__ import annotations

from typing import Iterator


def _plain_strings(batch_or_table):
    """DataFusion hands strings back as string_view, which pyarrow's compute kernels and
    to_numpy lack: cast those columns to plain strings."""
    import pyarrow as pa
    schema = batch_or_table.schema
    if not any(f.type in (pa.string_view(), pa.binary_view()) for f in schema):
        return batch_or_table
    fields = [f.with_type(pa.string()) if f.type == pa.string_view()
              else f.with_type(pa.binary()) if f.type == pa.binary_view() else f for f in schema]
    return batch_or_table.cast(pa.schema(fields))


def _execute(table_path: str, sql: str, version: int | None):
    from deltalake import DeltaTable, QueryBuilder
    table = DeltaTable(str(table_path), version=None if version is None else int(version))
    return QueryBuilder().register("t", table).execute(sql)


def sql_literal(value) -> str:
    """`value` as a quoted SQL string literal for `query` (quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def query(table_path: str, sql: str, version: int | None = None):
    """Run `sql` (the table is `t`) on the Delta table at `version` (None: latest): a
    pyarrow Table."""
    import pyarrow as pa
    return _plain_strings(pa.table(_execute(table_path, sql, version).read_all()))


def query_batches(table_path: str, sql: str, version: int | None = None) -> Iterator:
    """Like `query`, but streams pyarrow RecordBatches: memory is bounded by a batch, not by
    the table."""
    import pyarrow as pa
    for batch in _execute(table_path, sql, version):
        yield _plain_strings(pa.record_batch(batch))
