"""Helpers to apply udfs/ functions column-wise through Arrow (pandas UDFs).

A pandas UDF moves a whole Arrow batch between the JVM and Python at once; the function
from udfs/ then runs over the batch's values in the worker. Never use these for work a
Spark SQL expression can do natively.
"""
# No `from __future__ import annotations` here: pandas_udf reads the type hints at runtime.


def series_udf(fn, return_type, n_args: int = 1):
    """Wrap fn(value, ...) -> result into a vectorized pandas UDF over n_args columns."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    if n_args == 1:
        @pandas_udf(return_type)
        def apply_one(values: pd.Series) -> pd.Series:
            return pd.Series([None if v is None else fn(v) for v in values], dtype=object)
        return apply_one

    @pandas_udf(return_type)
    def apply_many(*columns: pd.Series) -> pd.Series:
        return pd.Series([fn(*row) for row in zip(*columns)], dtype=object)
    return apply_many


def stable_id(*cols):
    """Spark SQL twin of udfs.ingest.file_id / quarantine_id: sha256 of NUL-joined parts, 32 hex chars."""
    from pyspark.sql import functions as F
    return F.substring(F.sha2(F.concat_ws("\u0000", *cols), 256), 1, 32)
