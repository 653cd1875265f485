"""Kata 9: word statistics over a list of sentences: word counts, top terms, lengths.

These are meant for a first look at an export before deciding how to clean it,
not for linguistics: words are runs of letters, digits and apostrophes.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, List, Tuple

WORD_RE = re.compile(r"[A-Za-z0-9']+")
STOP_WORDS = frozenset(
    "a an and are as at be by for from has in is it of on or that the to was were will with".split()
)


def tokenize(text: str, lowercase: bool = True) -> List[str]:
    """Split text into words; apostrophes at the edges are dropped."""
    if lowercase:
        text = text.lower()
    return [w.strip("'") for w in WORD_RE.findall(text) if w.strip("'")]


@dataclass
class ColumnSummary:
    rows: int = 0
    empty_rows: int = 0
    total_words: int = 0
    longest_row: int = 0
    vocabulary: Counter = field(default_factory=Counter)

    @property
    def mean_words(self) -> float:
        filled = self.rows - self.empty_rows
        return self.total_words / filled if filled else 0.0

    def top_terms(self, n: int = 10, skip_stopwords: bool = True) -> List[Tuple[str, int]]:
        items = ((w, c) for w, c in self.vocabulary.most_common() if not (skip_stopwords and w in STOP_WORDS))
        result = []
        for pair in items:
            result.append(pair)
            if len(result) == n:
                break
        return result


def summarize_column(values: Iterable[str | None]) -> ColumnSummary:
    """One pass over the column; None and blank strings count as empty rows."""
    summary = ColumnSummary()
    for value in values:
        summary.rows += 1
        if value is None or not value.strip():
            summary.empty_rows += 1
            continue
        words = tokenize(value)
        summary.total_words += len(words)
        summary.longest_row = max(summary.longest_row, len(words))
        summary.vocabulary.update(words)
    return summary


def format_summary(summary: ColumnSummary, n: int = 5) -> str:
    lines = [
        f"rows: {summary.rows} ({summary.empty_rows} empty)",
        f"words per row: {summary.mean_words:.1f} mean, {summary.longest_row} max",
        "top terms: " + ", ".join(f"{w} ({c})" for w, c in summary.top_terms(n)),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_summary(summarize_column(["the cat sat", "", "the cat ran off"])))
