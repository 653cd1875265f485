"""Typed, streaming CSV reading."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Callable, Dict, Iterator, Mapping, Optional

Converter = Callable[[str], object]
_SNIFF_BYTES = 64 * 1024


def sniff_dialect(sample: str, fallback: type[csv.Dialect] = csv.excel) -> type[csv.Dialect]:
    """Guess delimiter and quoting from a sample; fall back to Excel's dialect."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return fallback


class TypedReader:
    """Iterate over rows as dicts, converting the named columns.

    Empty strings become ``None`` instead of being passed to the converter,
    and a row that fails conversion raises ``ValueError`` naming the line.
    """

    def __init__(self, handle: io.TextIOBase, types: Optional[Mapping[str, Converter]] = None):
        sample = handle.read(_SNIFF_BYTES)
        handle.seek(0)
        self._reader = csv.DictReader(handle, dialect=sniff_dialect(sample))
        self._types: Dict[str, Converter] = dict(types or {})

    @property
    def fieldnames(self):
        return self._reader.fieldnames

    def __iter__(self) -> Iterator[dict]:
        for row in self._reader:
            yield self._convert(row)

    def _convert(self, row: dict) -> dict:
        out = {}
        for key, raw in row.items():
            value = raw.strip() if isinstance(raw, str) else raw
            if value == "":
                out[key] = None
                continue
            conv = self._types.get(key)
            try:
                out[key] = conv(value) if conv else value
            except (TypeError, ValueError) as err:
                raise ValueError(f"line {self._reader.line_num}: column {key!r}: {err}") from None
        return out


def read_typed(path: str | Path, types: Optional[Mapping[str, Converter]] = None,
               encoding: str = "utf-8-sig") -> Iterator[dict]:
    """Open `path` and yield converted rows; the file is closed when iteration ends."""
    with open(path, newline="", encoding=encoding) as handle:
        yield from TypedReader(handle, types)
