import io

import pytest

from csvlite.reader import TypedReader, sniff_dialect
from csvlite.textstats import summarize_column, tokenize


def test_sniffs_semicolons():
    dialect = sniff_dialect("sku;qty\nA-1;3\nB-2;4\n")
    assert dialect.delimiter == ";"


def test_converts_and_blanks_become_none():
    data = io.StringIO("sku,qty,price\nA-1,3,2.50\nB-2,,1.25\n")
    rows = list(TypedReader(data, types={"qty": int, "price": float}))
    assert rows[0] == {"sku": "A-1", "qty": 3, "price": 2.5}
    assert rows[1]["qty"] is None


def test_bad_value_names_the_line():
    data = io.StringIO("sku,qty\nA-1,three\n")
    with pytest.raises(ValueError, match="line 2"):
        list(TypedReader(data, types={"qty": int}))


def test_tokenize_strips_edge_apostrophes():
    assert tokenize("'Tis the crew's 2nd shift'") == ["tis", "the", "crew's", "2nd", "shift"]


def test_summary_counts_empty_rows():
    summary = summarize_column(["late delivery", "", None, "late again, late"])
    assert summary.rows == 4 and summary.empty_rows == 2
    assert summary.top_terms(1) == [("late", 3)]
