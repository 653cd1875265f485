"""Incremental runs: `codemill run --input NEW --incremental` (docs/operations.md, weekly run).

What is new is decided once, by ingest, and recorded in bronze/changes for the run:
* added   — a file_id bronze did not hold;
* changed — a file_id bronze held with another content_sha256 (a new version of the file);
* deleted — a file of a repository that came again in this input without it (an input
            repository is taken as that repository's complete snapshot); files of
            repositories absent from the input are left alone.
Unchanged files (same file_id, same content_sha256) are not processed again.

The rows an incremental run works on are the rows of its input table that carry this
run's id (`run_id = <run>`): ingest stamps the added and changed files with it and every
later stage passes it on, so each stage's input is exactly what the stage before it kept of
this run's files (`run_rows`). A stage then replaces, in its output, the rows of every file in
bronze/changes of the run (added, changed and deleted) by what it kept of them
(`replace_slice`): the other rows stay as they were published.

An incremental stage always starts from its output's published version: a version left by
a killed or gate-failed attempt is restored away first (`start_from_published`), so
re-running a stage of the same run replaces its earlier attempt and nothing of a failed
run leaks into the next one.

All stages of an incremental run share its run id (`codemill run --incremental` does;
`codemill <stage> --incremental --run-id RUN` continues a run stage by stage).
"""
from __future__ import annotations

from jobs.core.errors import UserError
from jobs.core.logs import get_logger

log = get_logger(__name__)

CHANGES = "bronze/changes"
ADDED, CHANGED, DELETED = "added", "changed", "deleted"
METRIC = "incremental"          # ops/runs metrics key: "true" for an incremental stage run


def active(ctx) -> bool:
    """Whether the stage runs incrementally (`--incremental` on `codemill run` or the stage)."""
    return bool(getattr(ctx.args, "incremental", False))


def run_rows(ctx, df):
    """The rows of `df` (an input table read by lineage) that this run added or changed."""
    from pyspark.sql import functions as F
    return df.where(F.col("run_id") == ctx.run_id)


def changes(ctx):
    """This run's rows of bronze/changes (file_id, repo_name, path, change, ...)."""
    from pyspark.sql import functions as F
    if not ctx.lake.exists(CHANGES):
        raise UserError(f"{CHANGES} does not exist in {ctx.lake.root}: an incremental stage needs an incremental "
                        f"ingest of the same run first (`codemill run --incremental`, or `codemill ingest "
                        f"--incremental --run-id {ctx.run_id}`)")
    return ctx.lake.read(CHANGES).where(F.col("run_id") == ctx.run_id)


def changed_ids(ctx):
    """The distinct file_ids this run added, changed or deleted."""
    return changes(ctx).select("file_id").distinct()


def replaced_ids(ctx):
    """The file_ids this run changed or deleted: the only files of the run that earlier
    rows of a table can hold (an added file is new to every table)."""
    from pyspark.sql import functions as F
    return changes(ctx).where(F.col("change") != ADDED).select("file_id").distinct()


def start_from_published(ctx, name: str) -> None:
    """Make the table's latest version its published one before an incremental write: a
    newer version (a killed or gate-failed attempt) is restored away in one commit. A table
    that exists but was never published cannot be the base of an incremental run."""
    if not ctx.lake.exists(name):
        return
    published = ctx.lake.published_version(name)
    latest = ctx.lake.version(name)
    if published is None:
        raise UserError(f"{name} exists in {ctx.lake.root} but has no published version: an incremental run "
                        "builds on published tables; run a full `codemill run` (or `codemill check`) first")
    if latest != published:
        ctx.log(f"{name}: latest version {latest} is not published; restoring version {published} before "
                "the incremental write")
        ctx.lake.delta_table(name).restoreToVersion(published)


def refuse_after_unfinished_run(ctx) -> None:
    """Refuse an incremental ingest while the run that published bronze/files has not
    published the pipeline's last table. That run's files are in the published bronze, so
    this ingest would count them as unchanged and no later stage would ever process them:
    they would be lost downstream. The run is found by the published bronze/files version
    (a rollback points at an older run's version; an opt-out rewrites every table and
    finishes nothing that is missing). Continuing the same run (--run-id) is allowed.
    The pipeline's stages are the context's registry (ctx.stages)."""
    from jobs.core import publish

    stages = tuple(ctx.stages)
    if not stages:
        return
    rows = publish.published_rows(ctx.lake.root)
    bronze, last = stages[0].primary, stages[-1]
    version = publish.published_version(ctx.lake.root, bronze)
    if version is None:
        return
    ingests = [r for r in rows if r["table_name"] == bronze and int(r["version"]) == version
               and r["stage"] == stages[0].name]
    if not ingests or ingests[-1]["run_id"] == ctx.run_id:
        return
    run = ingests[-1]["run_id"]
    done = {r["stage"] for r in rows if r["run_id"] == run}
    if last.name in done:
        return
    names = [s.name for s in stages]
    reached = [n for n in names if n in done]
    nxt = names[names.index(reached[-1]) + 1] if reached else names[0]
    raise UserError(
        f"run {run} is unfinished: its files are in the published {bronze} (version {version}) but its gates "
        f"published nothing after stage {reached[-1] if reached else '(none)'}, so no stage after that has "
        f"processed them. An incremental run now would take them as unchanged and never process them. "
        f"Finish run {run} first: for each stage from {nxt} on, `codemill {nxt} --run-id {run}` (add "
        f"--incremental if it was an incremental run) then `codemill check {nxt} --run-id {run}`; or run a full "
        f"`codemill run` on the whole input")


def replace_slice(ctx, name: str, kept, key: str = "file_id", remove=None) -> int:
    """Replace, in table `name`, the rows of this run's changed and deleted files (`remove`:
    a frame of `key` values, default replaced_ids) and any rows an earlier attempt of this
    run left published, by `kept`, then append `kept`. The deletes cost a MERGE only when
    there is something to remove (a run of added files only appends), and the run's own
    rows are found by Delta's file statistics on run_id. Readers are unaffected until the
    gate publishes the result. Returns the version written."""
    start_from_published(ctx, name)
    if not ctx.lake.exists(name):
        return ctx.lake.overwrite(kept, name)
    remove = replaced_ids(ctx) if remove is None else remove
    if remove.limit(1).count():
        ctx.lake.delete_keys(name, remove, key)
    from schemas import table as table_def
    if "run_id" in table_def(name).schema.fieldNames() and ctx.lake.published_run_rows(name, ctx.run_id):
        ctx.lake.delta_table(name).delete(f"run_id = '{ctx.run_id}'")
    return ctx.lake.append(kept, name)


def record(result) -> None:
    """Mark a stage's result as incremental (read by the gate to check this run's rows)."""
    result.metrics[METRIC] = "true"


def was_incremental(run_record) -> bool:
    """Whether an ops/runs row (a Row or dict) is of an incremental stage run."""
    if run_record is None:
        return False
    metrics = dict(run_record["metrics"] or {})
    return metrics.get(METRIC) == "true"
