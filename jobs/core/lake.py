"""The lake: a folder of Delta tables named as in schemas/ (default ./lake), on the local disk
or on any filesystem Spark and delta-rs read (`s3a://bucket/lake`, `hdfs://...`:
jobs/core/storage.py). Files that are not tables (Great Expectations, reports, the tokenizer)
live in the lake's workspace, a local folder (`Lake.workspace`).

All writes go through these helpers so that every table is written with its one schema
and every stage's write is an atomic Delta commit (a killed job leaves the previous
version intact).
"""
from __future__ import annotations

import os
from pathlib import Path

from jobs.core.storage import Location, workspace_for
from schemas import table as table_def

DEFAULT_LAKE = "lake"


def lake_root(arg: str | Path | None = None) -> Location:
    """The lake named by --lake, else $CODEMILL_LAKE, else ./lake: a local path or a URI."""
    return Location(arg or os.environ.get("CODEMILL_LAKE") or DEFAULT_LAKE)


class Lake:
    def __init__(self, spark, root: str | Path | Location, workspace: str | Path | None = None):
        self.spark = spark
        self.root = Location(root)
        # Where the lake's non-table files go (jobs/core/storage.py: workspace_for).
        self.workspace = Path(workspace).resolve() if workspace else workspace_for(self.root)

    def path(self, name: str) -> str:
        table_def(name)  # fail early on a typo
        return str(self.root / name)

    def exists(self, name: str) -> bool:
        from delta.tables import DeltaTable
        return DeltaTable.isDeltaTable(self.spark, self.path(name))

    def read(self, name: str, version: int | None = None):
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.path(name))

    def read_or_empty(self, name: str):
        if self.exists(name):
            return self.read(name)
        return self.spark.createDataFrame([], table_def(name).schema)

    def version(self, name: str) -> int | None:
        """The table's latest version (None when it does not exist), read by delta-rs from the
        Delta log on the driver: milliseconds, where asking Spark for history(1) ran a Spark
        job (0.25–0.35 s) once per table per stage."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError
        try:
            return DeltaTable(self.path(name)).version()
        except TableNotFoundError:
            return None

    def null_counts(self, name: str, version: int | None = None) -> dict[str, int | None]:
        """Null values per column of the table (at `version`), from the statistics Delta keeps
        per data file in its log, so no data file is read: {column: nulls}, None where some
        file has no statistic for it; columns without statistics are absent."""
        import pyarrow as pa
        import pyarrow.compute as pc
        from deltalake import DeltaTable

        actions = pa.table(DeltaTable(self.path(name), version=version).get_add_actions(flatten=True))
        counts: dict[str, int | None] = {}
        for col in actions.column_names:
            if col.startswith("null_count."):
                values = actions.column(col)
                counts[col[len("null_count."):]] = None if values.null_count else int(pc.sum(values).as_py() or 0)
        return counts

    def published_version(self, name: str) -> int | None:
        """The version of `name` readers see (jobs/core/publish.py): the newest version its
        gate passed on, or a rollback chose; None when none was published. Read with
        delta-rs' query engine on the driver (no Spark job)."""
        from jobs.core.publish import published_version
        return published_version(self.root, name)

    def read_published(self, name: str):
        """The DataFrame of `name` at its published version (what every reader reads)."""
        from jobs.core.errors import UserError
        version = self.published_version(name)
        if version is None:
            raise UserError(f"{name} has no published version in {self.root} (no gate has passed on it: "
                            "run `codemill run`, or `codemill check <stage>` after a run without gates)")
        return self.read(name, version)

    def delta_table(self, name: str):
        from delta.tables import DeltaTable
        self.ensure(name)
        return DeltaTable.forPath(self.spark, self.path(name))

    def ensure(self, name: str) -> None:
        """Create the table empty, with its schema, if it does not exist yet."""
        if not self.exists(name):
            self._writer(self.spark.createDataFrame([], table_def(name).schema), name, "append").save(self.path(name))

    def _conform(self, df, name: str):
        """The table's columns in schema order, cast to the schema's types. A nullable column
        the frame lacks is written as nulls (a file table read from an earlier table has no
        later stages' columns); a missing non-nullable column is an error."""
        from pyspark.sql import functions as F
        schema = table_def(name).schema
        missing = [f.name for f in schema.fields if f.name not in df.columns and not f.nullable]
        if missing:
            raise ValueError(f"writing {name}: required column(s) {', '.join(missing)} missing")
        return df.select([(F.col(f.name) if f.name in df.columns else F.lit(None)).cast(f.dataType).alias(f.name)
                          for f in schema.fields])

    def _writer(self, df, name: str, mode: str):
        writer = self._conform(df, name).write.format("delta").mode(mode)
        parts = table_def(name).partition_by
        return writer.partitionBy(*parts) if parts else writer

    def overwrite(self, df, name: str) -> int:
        """Replace the whole table in one commit; returns the version written."""
        self._writer(df, name, "overwrite").option("overwriteSchema", "true").save(self.path(name))
        return self.version(name)

    def replace_where(self, df, name: str, condition: str) -> int:
        """Replace only the rows matching `condition` (e.g. one stage's rows of one run). A
        table that does not exist yet is created by this write (one commit, not an empty one
        first)."""
        self._writer(df, name, "overwrite").option("replaceWhere", condition).save(self.path(name))
        return self.version(name)

    def append(self, df, name: str) -> int:
        self._writer(df, name, "append").save(self.path(name))
        return self.version(name)

    def published_run_rows(self, name: str, run_id: str) -> bool:
        """Whether some data file of the table's latest version may hold rows of `run_id`,
        from the min/max statistics of run_id in the Delta log (no data file read)."""
        import pyarrow as pa
        from deltalake import DeltaTable
        actions = pa.table(DeltaTable(self.path(name)).get_add_actions(flatten=True))
        if "min.run_id" not in actions.column_names:
            return actions.num_rows > 0
        lows, highs = actions.column("min.run_id").to_pylist(), actions.column("max.run_id").to_pylist()
        return any(lo is None or hi is None or lo <= run_id <= hi for lo, hi in zip(lows, highs))

    def delete_keys(self, name: str, keys, key: str = "file_id") -> int:
        """Delete the rows whose `key` is among `keys` (a frame with that column), in one MERGE
        commit: only the data files holding such rows are rewritten."""
        from pyspark.sql import functions as F
        (self.delta_table(name).alias("t")
            .merge(keys.select(F.col(key).alias("_key")).distinct().alias("s"), f"t.{key} = s._key")
            .whenMatchedDelete()
            .execute())
        return self.version(name)

    def upsert(self, df, name: str, keys: tuple[str, ...]) -> int:
        """MERGE by key: an existing row is replaced, a new one inserted (idempotent re-ingest)."""
        self.ensure(name)
        condition = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        (self.delta_table(name).alias("t")
            .merge(self._conform(df, name).alias("s"), condition)
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute())
        return self.version(name)
