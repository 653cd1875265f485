"""Checks that GX cannot express on the table itself: each is one aggregate Spark SQL query
(counts, joins, group-bys — never a Python loop over rows) whose result, the number of
failing rows, is then validated by a real GX expectation on a one-row aggregate frame
(see gates.py). On failure a second, small query fetches a few failing ids.

A check returns CheckOutcome(failing=None) when it cannot apply (its input table is absent):
recorded as skipped, never as passed. Which checks run on which table: `aggregate_checks`.
"""
from __future__ import annotations

import functools

from quality_checks import scans
from quality_checks.base import AggregateCheck, CheckOutcome, Env
from udfs.heuristics import RULES


# ---- row accounting ------------------------------------------------------------------

def _run_record(env: Env):
    """The ops/runs row of (stage, run), read once per Env."""
    if "run_record" not in env.cache:
        from jobs.core.stage import stage_run_record
        env.cache["run_record"] = stage_run_record(env.lake, env.stage.name, env.run_id)
    return env.cache["run_record"]


def accounting_ops_runs(env: Env) -> CheckOutcome:
    """ops/runs for (stage, run): succeeded, rows_in = rows_kept + rows_rejected, and
    rows_rejected = sum of rejected_by_reason."""
    rec = _run_record(env)
    if rec is None:
        return CheckOutcome(1, [], f"no ops/runs record for stage {env.stage.name} run {env.run_id}")
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
    where = env.stage.rejections
    if where == "bronze/quarantine":
        quarantined = env.lake.read_or_empty(where).where(f"run_id = '{env.run_id}'")
        return where, quarantined.select(F.col("quarantine_id").alias("file_id"))
    return where, (env.lake.read_or_empty(where)
                   .where(f"stage = '{env.stage.name}' AND run_id = '{env.run_id}'").select("file_id"))


def _kept_frame(env: Env):
    """The files the stage kept: its output's file_ids (ingest: the rows this run upserted;
    gold/training_docs: every file of every document); None for a table without files
    (gold/tokens holds packed sequences)."""
    from pyspark.sql import functions as F
    if "file_ids" in env.df.columns:
        return env.df.select(F.explode("file_ids").alias("file_id"))
    if "file_id" not in env.df.columns:
        return None
    df = env.df.where(f"run_id = '{env.run_id}'") if not env.stage.inputs else env.df
    return df.select("file_id")


def _input_table(env: Env) -> tuple[str, int | None] | None:
    """The stage's file-level input and the version its run read (ops/runs versions_read);
    None when the stage reads no table of files (ingest, tokenize)."""
    from schemas import table as table_def
    if not env.stage.inputs or "file_id" not in table_def(env.stage.inputs[0]).schema.fieldNames():
        return None
    name = env.stage.inputs[0]
    rec = _run_record(env)
    read = dict(rec["versions_read"] or {}) if rec is not None else {}
    if name in read:
        return name, int(read[name])
    return (name, None) if env.lake.exists(name) else None


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
        source = env.lake.read(name, version)
        if env.incremental:  # the stage read this run's rows of its input
            source = source.where(f"run_id = '{env.run_id}'")
        frames.append(tagged(source.select("file_id"), 1, 0, 0))
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
        return CheckOutcome(None, [], f"skipped: no ops/runs record for stage {env.stage.name} run {env.run_id}")
    acc = _accounting(env)
    stored = acc["rejected_rows"]
    diff = abs(stored - rec["rows_rejected"])
    return CheckOutcome(diff, [], f"{stored} rows in {acc['rejected_where']} for this stage and run; ops/runs says "
                                  f"{rec['rows_rejected']} rejected")


def accounting_table_count(env: Env) -> CheckOutcome:
    """rows_kept in ops/runs = rows in the output table (ingest: rows this run upserted)."""
    rec = _run_record(env)
    if rec is None or rec["rows_kept"] is None:
        return CheckOutcome(None, [], f"skipped: no ops/runs record for stage {env.stage.name} run {env.run_id}")
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
                                    f"{env.stage.rejections} for stage {env.stage.name} run {env.run_id}")


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
    """One pass for every filter rule that a kept file can be re-checked on (udfs.heuristics
    RULES with `limits`): (the table joined to its extensions' limits, the violation condition
    per rule, violations per rule, extensions with a limit per rule).

    Distinct extensions are few: each one's limits are resolved in Python, joined back as a
    small broadcast table, and all rules are counted in a single aggregate (cached on env,
    so the checks cost one scan)."""
    from pyspark.sql import functions as F

    if "filter_violations" in env.cache:
        return env.cache["filter_violations"]
    rules = env.config.filter
    extensions = [r[0] for r in env.df.select("extension").distinct().collect()]
    limits = {e: rules.limits(e) for e in extensions}
    # one limit column per (rule, metric): a rule may bound several metrics (encoded_data)
    columns = sorted({(rule, metric, side) for per in limits.values() for rule, ls in per.items()
                      for metric, side, _ in ls if metric in env.df.columns})
    limited = {rule.name: sum(bool(limits[e].get(rule.name)) for e in extensions) for rule in RULES if rule.limits}
    if not columns:
        env.cache["filter_violations"] = (env.df, {}, {}, limited)
        return env.cache["filter_violations"]

    def value(e, rule, metric):
        return next((lim for m, _s, lim in limits[e].get(rule, []) if m == metric), None)
    lim = env.df.sparkSession.createDataFrame(
        [(e, *[value(e, rule, metric) for rule, metric, _ in columns]) for e in extensions],
        ", ".join(["ext string"] + [f"limit_{rule}__{metric} double" for rule, metric, _ in columns]))
    joined = env.df.join(F.broadcast(lim), env.df["extension"].eqNullSafe(lim["ext"]))
    conditions: dict = {}
    for rule, metric, side in columns:
        val, limit = F.col(metric), F.col(f"limit_{rule}__{metric}")
        beyond = (val > limit) if side == "max" else (val < limit)
        cond = limit.isNotNull() & (beyond | val.isNull())
        conditions[rule] = cond if rule not in conditions else (conditions[rule] | cond)
    row = joined.agg(*[F.sum(c.cast("long")).alias(r) for r, c in conditions.items()]).collect()[0]
    counts = {r: int(row[r] or 0) for r in conditions}
    env.cache["filter_violations"] = (joined, conditions, counts, limited)
    return env.cache["filter_violations"]


def filter_threshold_check(rule) -> AggregateCheck:
    """Kept files satisfy `rule`'s limits on their stored metrics, for their extension."""
    def check(env: Env) -> CheckOutcome:
        joined, conditions, counts, limited = _filter_violations(env)
        if not limited.get(rule.name) or rule.name not in conditions:
            return CheckOutcome(0, [], f"rule {rule.name} applies to none of the extensions present")
        n = counts[rule.name]
        return CheckOutcome(n, env.ids(joined.where(conditions[rule.name])) if n else [],
                            f"{n} kept files break the {rule.name} limit of their extension "
                            f"({limited[rule.name]} extensions checked)")

    return AggregateCheck(f"filter_threshold.{rule.name}",
                          f"kept files satisfy the {rule.name} limits of their extension (config filter)", check)


def one_survivor_per_cluster(env: Env) -> CheckOutcome:
    from pyspark.sql import functions as F

    clusters = env.df
    if env.incremental:  # every row of the clusters this run added to, old rows included
        clusters = env.whole_df.join(env.df.select("cluster_id").distinct(), "cluster_id", "left_semi")
    per = (clusters.groupBy("cluster_id")
           .agg(F.sum(F.col("kept").cast("int")).alias("kept_n")).where("kept_n != 1"))
    n = per.count()
    samples = []
    if n:
        samples = env.ids(clusters.join(per.select("cluster_id").limit(env.sample_n), "cluster_id"))
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

    configured = env.config.tokenize.seq_len
    lengths = env.with_content.groupBy(F.size("input_ids").alias("n")).count().collect()
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
    bad = env.with_content.where(F.size("input_ids") != expected)
    return CheckOutcome(n, env.ids(bad, "seq_id") if n else [],
                        f"{n} sequences differ from length {expected} (lengths seen: {seen})")


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
# Per table: the checks of its content, beyond what GX expresses on the table itself.
TABLE_CHECKS = {
    "silver/filtered": [filter_threshold_check(rule) for rule in RULES if rule.limits],
    "silver/dup_clusters": [
        AggregateCheck("one_survivor_per_cluster", "each duplicate cluster keeps exactly one file",
                       one_survivor_per_cluster),
        AggregateCheck("survivors_present", "each cluster's survivor is in silver/deduped", survivors_present),
        AggregateCheck("dropped_duplicates_absent", "dropped duplicates are not in silver/deduped",
                       dropped_duplicates_absent)],
    "silver/redacted": [AggregateCheck("no_remaining_pii", "no PII pattern left after redaction (udfs/pii detectors)",
                                       scans.remaining_pii, scans_content=True)],
    "silver/pii_findings": [AggregateCheck("findings_reference_redacted_files",
                                           "every finding's file is in silver/redacted", findings_reference_redacted)],
    "gold/files": [AggregateCheck("no_benchmark_string", "no benchmark prompt or solution (udfs/decontam)",
                                  scans.remaining_benchmarks, scans_content=True)],
    "gold/tokens": [AggregateCheck("constant_sequence_length", "every packed sequence has the same length",
                                   constant_sequence_length)],
}


def aggregate_checks(table_name: str, stage) -> list[AggregateCheck]:
    """The aggregate checks of `table_name` in the gate of `stage`: the row accounting on the
    stage's primary output, file lineage when the stage reads a table of files (one with
    file_id), and the table's own checks."""
    from schemas import table as table_def
    checks: list[AggregateCheck] = []
    if stage.primary == table_name:
        checks += ACCOUNTING + [TABLE_COUNT]
        if stage.inputs and "file_id" in table_def(stage.inputs[0]).schema.fieldNames():
            checks += LINEAGE
    return checks + TABLE_CHECKS.get(table_name, [])
