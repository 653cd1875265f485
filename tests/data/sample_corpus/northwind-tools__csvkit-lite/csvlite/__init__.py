"""csvkit-lite: streaming CSV helpers with typed columns and text statistics."""
from csvlite.reader import TypedReader, read_typed, sniff_dialect
from csvlite.textstats import summarize_column

__all__ = ["TypedReader", "read_typed", "sniff_dialect", "summarize_column"]
