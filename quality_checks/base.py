"""What every aggregate check is made of: the outcome it reports, the environment it reads
and its declaration. Shared by checks.py (the checks and which table gets which) and scans.py
(the content scans), so neither imports the other's module to get them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class CheckOutcome:
    failing: int | None            # rows (or runs, clusters) that break the rule; None = skipped
    samples: list[str] = field(default_factory=list)  # a few failing ids, never content
    detail: str = ""


@dataclass
class Env:
    """What a check sees: the table under check and the lake around it."""
    lake: object
    table_name: str
    df: object            # the table, as read for this gate (content may be a stand-in: see gates.py)
    config: dict
    stage: object         # the registry's Stage whose gate runs (jobs/core/stage.py)
    run_id: str | None
    sample_n: int = 5
    cache: dict = field(default_factory=dict)
    content_df: object = None  # the table with its real content, for the checks that scan it
    # An incremental stage run (jobs/core/incremental.py): df and content_df hold only the
    # rows this run wrote (run_id = run); whole_df is the whole table (content stand-ins),
    # for the checks whose rule spans old rows too (one survivor per duplicate cluster).
    incremental: bool = False
    whole_df: object = None

    @property
    def with_content(self):
        return self.content_df if self.content_df is not None else self.df

    def ids(self, df, column: str = "file_id") -> list[str]:
        return [str(r[0]) for r in df.select(column).limit(self.sample_n).collect()]


@dataclass
class AggregateCheck:
    name: str
    description: str
    fn: Callable[[Env], CheckOutcome]
    # A scan of the content (a pandas UDF over every byte it reads): a gate's longest check,
    # started first, in a thread of its own (gates.py).
    scans_content: bool = False
