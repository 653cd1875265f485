"""Checks that GX cannot express on the table itself: each is one aggregate Spark SQL query
(counts, joins, group-bys — never a Python loop over rows) whose result, the number of
failing rows, is then validated by a real GX expectation on a one-row aggregate frame
(see gates.py). On failure a second, small query fetches a few failing ids.

A check returns CheckOutcome(failing=None) when it cannot apply (its config section or
its input table is absent): recorded as skipped, never as passed.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

from quality_checks import settings


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
    stage: str
    run_id: str | None
    sample_n: int = 5
    cache: dict = field(default_factory=dict)
    content_df: object = None  # the table with its real content, for the checks that scan it

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


# ---- row accounting ------------------------------------------------------------------

def _run_record(env: Env):
    """The ops/runs row of (stage, run), read once per Env."""
    if "run_record" not in env.cache:
        rows = []
        if env.run_id is not None and env.lake.exists("ops/runs"):
            rows = (env.lake.read("ops/runs")
                    .where(f"run_id = '{env.run_id}' AND stage = '{env.stage}'").collect())
        env.cache["run_record"] = rows[0] if rows else None
    return env.cache["run_record"]


def accounting_ops_runs(env: Env) -> CheckOutcome:
    """ops/runs for (stage, run): succeeded, rows_in = rows_kept + rows_rejected, and
    rows_rejected = sum of rejected_by_reason."""
    rec = _run_record(env)
    if rec is None:
        return CheckOutcome(1, [], f"no ops/runs record for stage {env.stage} run {env.run_id}")
    problems = []
    if rec["status"] != "succeeded":
        problems.append(f"status {rec['status']}")
    if rec["rows_in"] is None or rec["rows_kept"] is None or rec["rows_rejected"] is None:
        problems.append("row counts missing")
    else:
        by_reason = sum((rec["rejected_by_reason"] or {}).values())
        if rec["rows_in"] != rec["rows_kept"] + rec["rows_rejected"]:
            problems.append(f"rows_in {rec['rows_in']} != kept {rec['rows_kept']} + rejected {rec['rows_rejected']}")
        if by_reason != rec["rows_rejected"]:
            problems.append(f"rejected_by_reason sums to {by_reason}, rows_rejected is {rec['rows_rejected']}")
    return CheckOutcome(1 if problems else 0, [], "; ".join(problems) or
                        f"rows_in {rec['rows_in']} = kept {rec['rows_kept']} + rejected {rec['rows_rejected']}")


def _rejected_frame(env: Env):
    """Where this stage stored its rejections of this run, and their ids as `file_id`
    (ingest: bronze/quarantine, whose records have a quarantine_id instead — unreadable input
    has no file_id)."""
    from pyspark.sql import functions as F
    if env.stage == "ingest":
        quarantined = env.lake.read_or_empty("bronze/quarantine").where(f"run_id = '{env.run_id}'")
        return "bronze/quarantine", quarantined.select(F.col("quarantine_id").alias("file_id"))
    return "silver/rejections", (env.lake.read_or_empty("silver/rejections")
                                 .where(f"stage = '{env.stage}' AND run_id = '{env.run_id}'").select("file_id"))


def _kept_frame(env: Env):
    """The files the stage kept: its output's file_ids (ingest: the rows this run upserted;
    gold/training_docs: every file of every document); None for a table without files
    (gold/tokens holds packed sequences)."""
    from pyspark.sql import functions as F
    if "file_ids" in env.df.columns:
        return env.df.select(F.explode("file_ids").alias("file_id"))
    if "file_id" not in env.df.columns:
        return None
    df = env.df.where(f"run_id = '{env.run_id}'") if env.stage == "ingest" else env.df
    return df.select("file_id")


def _input_table(env: Env) -> tuple[str, int | None] | None:
    rec = _run_record(env)
    read = dict(rec["versions_read"] or {}) if rec is not None else {}
    for name in settings.STAGE_INPUTS.get(env.stage, ()):
        if name in read:
            return name, int(read[name])
    for name in settings.STAGE_INPUTS.get(env.stage, ()):
        if env.lake.exists(name):
            return name, None
    return None


def _accounting(env: Env) -> dict:
    """Row accounting and lineage of the stage in ONE aggregate query, cached on env: the
    input's file_ids (tag s), the kept ones (k) and the rejected ones (r) are unioned and
    grouped by file_id once, giving the kept and rejected row counts, the input files that
    are neither kept nor rejected (vanished) and the kept files not in the input (appeared).
    Five checks used to be five Spark jobs (two counts, two anti joins); now they are one."""
    from pyspark.sql import functions as F

    if "accounting" in env.cache:
        return env.cache["accounting"]
    rejected_where, rejected = _rejected_frame(env)
    kept = _kept_frame(env)

    def tagged(df, s: int, k: int, r: int):
        return df.select("file_id", F.lit(s).alias("s"), F.lit(k).alias("k"), F.lit(r).alias("r"))

    frames = [tagged(rejected, 0, 0, 1)] + ([tagged(kept, 0, 1, 0)] if kept is not None else [])
    found, input_label = _input_table(env), None
    if found is not None:
        name, version = found
        frames.append(tagged(env.lake.read(name, version).select("file_id"), 1, 0, 0))
        input_label = name + (f"@v{version}" if version is not None else " (current version)")
    union = functools.reduce(lambda a, b: a.unionByName(b), frames)
    per_file = union.groupBy("file_id").agg(F.max("s").alias("s"), F.max("k").alias("k"), F.max("r").alias("r"),
                                            F.sum("k").alias("k_rows"), F.sum("r").alias("r_rows"))
    row = per_file.agg(
        F.sum("k_rows").alias("kept_rows"), F.sum("r_rows").alias("rejected_rows"),
        F.sum(((F.col("s") == 1) & (F.col("k") == 0) & (F.col("r") == 0)).cast("long")).alias("vanished"),
        F.sum(((F.col("k") == 1) & (F.col("s") == 0)).cast("long")).alias("appeared")).collect()[0]
    out = {"kept_rows": None if kept is None else int(row["kept_rows"] or 0),
           "rejected_rows": int(row["rejected_rows"] or 0),
           "rejected_where": rejected_where, "per_file": per_file, "input": input_label,
           "vanished": int(row["vanished"] or 0), "appeared": int(row["appeared"] or 0)}
    env.cache["accounting"] = out
    return out


def accounting_rejections(env: Env) -> CheckOutcome:
    """The rejections stored for (stage, run) match the ops/runs count (ingest: bronze/quarantine)."""
    rec = _run_record(env)
    if rec is None or rec["rows_rejected"] is None:
        return CheckOutcome(None, [], f"skipped: no ops/runs record for stage {env.stage} run {env.run_id}")
    acc = _accounting(env)
    stored = acc["rejected_rows"]
    diff = abs(stored - rec["rows_rejected"])
    return CheckOutcome(diff, [], f"{stored} rows in {acc['rejected_where']} for this stage and run; ops/runs says "
                                  f"{rec['rows_rejected']} rejected")


def accounting_table_count(env: Env) -> CheckOutcome:
    """rows_kept in ops/runs = rows in the output table (ingest: rows this run upserted)."""
    rec = _run_record(env)
    if rec is None or rec["rows_kept"] is None:
        return CheckOutcome(None, [], f"skipped: no ops/runs record for stage {env.stage} run {env.run_id}")
    actual = _accounting(env)["kept_rows"]
    if actual is None:
        return CheckOutcome(None, [], f"skipped: {env.table_name} has no file_id column")
    return CheckOutcome(abs(actual - rec["rows_kept"]), [],
                        f"{env.table_name} holds {actual} rows; ops/runs says {rec['rows_kept']} kept")


def lineage_vanished(env: Env) -> CheckOutcome:
    """Every file the stage read is kept or rejected (input - kept - rejected)."""
    acc = _accounting(env)
    if acc["input"] is None:
        return CheckOutcome(None, [], "skipped: the stage's input table does not exist")
    n = acc["vanished"]
    samples = env.ids(acc["per_file"].where("s = 1 AND k = 0 AND r = 0")) if n else []
    return CheckOutcome(n, samples, f"{n} files of {acc['input']} are neither in {env.table_name} nor in "
                                    f"silver/rejections for stage {env.stage} run {env.run_id}")


def lineage_appeared(env: Env) -> CheckOutcome:
    """No kept file comes from nowhere (kept - input)."""
    acc = _accounting(env)
    if acc["input"] is None:
        return CheckOutcome(None, [], "skipped: the stage's input table does not exist")
    n = acc["appeared"]
    samples = env.ids(acc["per_file"].where("k = 1 AND s = 0")) if n else []
    return CheckOutcome(n, samples, f"{n} files of {env.table_name} are not in {acc['input']}")


# ---- per-table aggregates ----------------------------------------------------------------

def _filter_violations(env: Env):
    """One pass for every filter rule: (the table joined to its extensions' limits, the
    violation condition per rule, violations per rule, extensions with a limit per rule).

    Distinct extensions are few: each one's thresholds are resolved in Python, joined back as
    a small broadcast table, and all rules are counted in a single aggregate (cached on env,
    so the five checks cost one scan)."""
    from pyspark.sql import functions as F

    if "filter_violations" in env.cache:
        return env.cache["filter_violations"]
    rules = [r for r, (column, _side) in settings.METRIC_RULES.items() if column in env.df.columns]
    extensions = [r[0] for r in env.df.select("extension").distinct().collect()]
    thresholds = {e: settings.thresholds_for(env.config, e) for e in extensions}
    limited = {rule: sum(thresholds[e][rule] is not None for e in extensions) for rule in rules}
    lim = env.df.sparkSession.createDataFrame(
        [(e, *[None if thresholds[e][r] is None else float(thresholds[e][r]) for r in rules]) for e in extensions],
        ", ".join(["ext string"] + [f"limit_{r} double" for r in rules]))
    joined = env.df.join(F.broadcast(lim), env.df["extension"].eqNullSafe(lim["ext"]))
    conditions = {}
    for rule in rules:
        column, side = settings.METRIC_RULES[rule]
        value, limit = F.col(column), F.col(f"limit_{rule}")
        beyond = (value > limit) if side == "max" else (value < limit)
        conditions[rule] = limit.isNotNull() & (beyond | value.isNull())
    counts = {}
    if rules and extensions:
        row = joined.agg(*[F.sum(c.cast("long")).alias(r) for r, c in conditions.items()]).collect()[0]
        counts = {r: int(row[r] or 0) for r in rules}
    env.cache["filter_violations"] = (joined, conditions, counts, limited)
    return env.cache["filter_violations"]


def filter_threshold_check(rule: str) -> AggregateCheck:
    column, side = settings.METRIC_RULES[rule]

    def check(env: Env) -> CheckOutcome:
        if not settings.filter_configured(env.config):
            return CheckOutcome(None, [], "skipped: no filter thresholds in config")
        if column not in env.df.columns:
            return CheckOutcome(None, [], f"skipped: {env.table_name} has no {column} column")
        joined, conditions, counts, limited = _filter_violations(env)
        if not limited.get(rule):
            return CheckOutcome(0, [], f"rule {rule} applies to none of the extensions present")
        n = counts[rule]
        word = "above its maximum" if side == "max" else "below its minimum"
        return CheckOutcome(n, env.ids(joined.where(conditions[rule])) if n else [],
                            f"{n} kept files have {column} {word} for their extension "
                            f"({limited[rule]} extensions checked)")

    return AggregateCheck(f"filter_threshold.{rule}",
                          f"kept files satisfy the {rule} threshold of their extension (config filter)", check)


def one_survivor_per_cluster(env: Env) -> CheckOutcome:
    from pyspark.sql import functions as F

    per = (env.df.groupBy("cluster_id")
           .agg(F.sum(F.col("kept").cast("int")).alias("kept_n")).where("kept_n != 1"))
    n = per.count()
    samples = []
    if n:
        samples = env.ids(env.df.join(per.select("cluster_id").limit(env.sample_n), "cluster_id"))
    return CheckOutcome(n, samples, f"{n} duplicate clusters do not keep exactly one file")


def survivors_present(env: Env) -> CheckOutcome:
    """The file each cluster keeps is in silver/deduped (and is its own cluster's id)."""
    if not env.lake.exists("silver/deduped"):
        return CheckOutcome(None, [], "skipped: silver/deduped does not exist")
    kept = env.df.where("kept").select("file_id", "cluster_id")
    wrong_id = kept.where("file_id != cluster_id")
    missing = kept.select("file_id").join(env.lake.read("silver/deduped").select("file_id"), "file_id", "left_anti")
    bad = wrong_id.select("file_id").unionByName(missing).distinct()
    n = bad.count()
    return CheckOutcome(n, env.ids(bad) if n else [],
                        f"{n} cluster survivors are missing from silver/deduped or are not their cluster's id")


def dropped_duplicates_absent(env: Env) -> CheckOutcome:
    if not env.lake.exists("silver/deduped"):
        return CheckOutcome(None, [], "skipped: silver/deduped does not exist")
    dropped = env.df.where("NOT kept").select("file_id").distinct()
    leaked = dropped.join(env.lake.read("silver/deduped").select("file_id"), "file_id", "left_semi")
    n = leaked.count()
    return CheckOutcome(n, env.ids(leaked) if n else [],
                        f"{n} files marked not kept in a duplicate cluster are still in silver/deduped")


def findings_reference_redacted(env: Env) -> CheckOutcome:
    if not env.lake.exists("silver/redacted"):
        return CheckOutcome(None, [], "skipped: silver/redacted does not exist")
    orphans = env.df.select("file_id").distinct().join(
        env.lake.read("silver/redacted").select("file_id"), "file_id", "left_anti")
    n = orphans.count()
    return CheckOutcome(n, env.ids(orphans) if n else [], f"{n} files with findings are not in silver/redacted")


def constant_sequence_length(env: Env) -> CheckOutcome:
    """Every packed sequence has the same length: the most common one, which must be the
    configured tokenize.seq_len or seq_len + 1 (inputs plus the shifted label) when configured."""
    from pyspark.sql import functions as F

    configured = settings.tokens_seq_length(env.config)
    lengths = env.df.groupBy(F.size("input_ids").alias("n")).count().collect()
    if not lengths:
        return CheckOutcome(0, [], "gold/tokens is empty")
    expected = max(lengths, key=lambda r: (r["count"], r["n"]))["n"]
    seen = ", ".join(f"{r['n']}x{r['count']}" for r in sorted(lengths, key=lambda r: r["n"])[:6])
    if configured and expected not in (configured, configured + 1):
        total = sum(r["count"] for r in lengths)
        return CheckOutcome(total, env.ids(env.df, "seq_id"),
                            f"sequences have length {expected}, configured seq_len is {configured} "
                            f"(lengths seen: {seen})")
    n = sum(r["count"] for r in lengths if r["n"] != expected)
    bad = env.df.where(F.size("input_ids") != expected)
    return CheckOutcome(n, env.ids(bad, "seq_id") if n else [],
                        f"{n} sequences differ from length {expected} (lengths seen: {seen})")


# ---- PII and benchmark scans (detectors owned by udfs/pii.py and udfs/decontam.py) -----------

def no_remaining_pii(env: Env) -> CheckOutcome:
    from quality_checks import scans
    return scans.remaining_pii(env)


def no_benchmark_string(env: Env) -> CheckOutcome:
    from quality_checks import scans
    return scans.remaining_benchmarks(env)


# ---- which checks run on which table ------------------------------------------------------

ACCOUNTING = [
    AggregateCheck("row_accounting.ops_runs", "ops/runs: rows_in = rows_kept + rows_rejected for this stage and run",
                   accounting_ops_runs),
    AggregateCheck("row_accounting.rejections", "stored rejections match the ops/runs rejected count",
                   accounting_rejections),
]
TABLE_COUNT = AggregateCheck("row_accounting.table_count", "rows_kept in ops/runs = rows in the output table",
                             accounting_table_count)
LINEAGE = [
    AggregateCheck("row_lineage.vanished", "every input file is kept or rejected (none vanished)", lineage_vanished),
    AggregateCheck("row_lineage.appeared", "every kept file was in the stage's input", lineage_appeared),
]

# The table on which a stage's accounting checks run (its main output).
PRIMARY_TABLE = {stage: tables[0] for stage, tables in settings.STAGE_TABLES.items()}


def aggregate_checks(table_name: str, stage: str) -> list[AggregateCheck]:
    checks: list[AggregateCheck] = []
    if PRIMARY_TABLE.get(stage) == table_name:
        checks += ACCOUNTING
        if stage not in ("format", "tokenize"):  # other granularity than files
            checks.append(TABLE_COUNT)
        if stage in settings.STAGE_INPUTS:
            checks += LINEAGE
    if table_name == "silver/filtered":
        checks += [filter_threshold_check(rule) for rule in settings.METRIC_RULES]
    if table_name == "silver/dup_clusters":
        checks += [AggregateCheck("one_survivor_per_cluster", "each duplicate cluster keeps exactly one file",
                                  one_survivor_per_cluster),
                   AggregateCheck("survivors_present", "each cluster's survivor is in silver/deduped",
                                  survivors_present),
                   AggregateCheck("dropped_duplicates_absent", "dropped duplicates are not in silver/deduped",
                                  dropped_duplicates_absent)]
    if table_name == "silver/redacted":
        checks.append(AggregateCheck("no_remaining_pii", "no PII pattern left after redaction (udfs/pii detectors)",
                                     no_remaining_pii))
    if table_name == "silver/pii_findings":
        checks.append(AggregateCheck("findings_reference_redacted_files", "every finding's file is in silver/redacted",
                                     findings_reference_redacted))
    if table_name == "gold/files":
        checks.append(AggregateCheck("no_benchmark_string", "no benchmark prompt or solution (udfs/decontam)",
                                     no_benchmark_string))
    if table_name == "gold/tokens":
        checks.append(AggregateCheck("constant_sequence_length", "every packed sequence has the same length",
                                     constant_sequence_length))
    return checks
