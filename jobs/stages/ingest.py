"""Ingest stage: raw input → bronze/files + bronze/quarantine.

    codemill ingest --input PATH [--input-format jsonl|parquet|repos|repo] --lake DIR
    spark-submit jobs/submit.py ingest --input PATH --lake DIR

Inputs (one file or a folder; the format is detected, see detect_format):
* jsonl   — *.jsonl / *.jsonl.gz: one JSON object per line; *.json / *.json.gz: one object per
            line or one JSON array of objects (The Stack's column names or plain ones, see
            udfs.ingest.FIELD_ALIASES);
* parquet — Parquet files with the same columns;
* repos   — a folder with one sub-folder per repository; repo — one repository's folder
            (it has .git, .codemill-repo.json or a LICENSE file at its top). A LICENSE/COPYING
            file gives the license, an optional .codemill-repo.json repo_name/stars/license.
A folder mixing JSONL and Parquet files, or holding data files next to repository content,
is refused with a message saying what to give instead.

How it reads: the driver only lists the input files (pyarrow.fs, so hidden `_`/`.` names
that Spark's file sources skip are kept, on local disk, HDFS or object stores); Python
workers read each file's bytes and expand it into records (mapInArrow). jsonl and repos go
this way; parquet is read by Spark.

Nothing is lost: every input record becomes a bronze row or a quarantine row with a
reason. Re-ingesting the same input MERGEs by file_id, so row counts do not change.
"""
from __future__ import annotations

import gzip
import io
from jobs.core import incremental
from jobs.core.arrow import stable_id
from jobs.core.errors import UserError
from jobs.core.stage import Stage, StageContext, StageResult, now_utc
from jobs.core.storage import Location
from udfs import ingest as rules

# repos: a folder with one sub-folder per repository; repo: one repository's folder.
FORMATS = ("jsonl", "parquet", "repos", "repo")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
PARQUET_SUFFIXES = (".parquet",)
# Files Spark and Hadoop write next to Parquet parts: not data, not repository content.
_WRITER_MARKERS = ("_SUCCESS", "_committed_", "_started_", ".crc")

# Intermediate record: either a file (reason null) or a quarantine entry.
RECORD_DDL = ("kind string, source string, locator string, repo_name string, path string, "
              "content string, license string, stars long, size_bytes long, reason string, detail string")


def _kind(name: str) -> str:
    low = name.lower()
    if low.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if low.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.startswith(_WRITER_MARKERS[:3]) or low.endswith(_WRITER_MARKERS[3]):
        return "marker"
    return "other"


def is_single_repository(folder: Location) -> bool:
    """A folder is one repository (not a folder of repositories) when it holds a .git entry,
    a .codemill-repo.json, or a LICENSE/COPYING file at its top: a folder of repositories
    has those one level down."""
    return any((folder / name).exists() for name in (".git", rules.REPO_METADATA_FILE)) or any(
        p.is_file() and rules.is_license_file(p.name) for p in folder.iterdir())


def detect_format(input_path: Location, listed: list[tuple[str, int]] | None = None) -> str:
    """The input's format, from what it holds (UserError when it cannot be told or is mixed).

    A file: by its suffix. A folder of only .jsonl/.json(.gz) files: jsonl; of only Parquet
    files: parquet; of both: refused. Any other folder holds repositories: one repository
    (`repo`, see is_single_repository) or a folder of them (`repos`); JSONL/Parquet data files
    at its top level next to other files are refused, as they belong to no repository."""
    if input_path.is_file():
        kind = _kind(input_path.name)
        if kind in ("jsonl", "parquet"):
            return kind
        raise UserError(f"cannot tell the format of {input_path} from its name: expected "
                        f"{', '.join(JSONL_SUFFIXES + PARQUET_SUFFIXES)} (or give --input-format)")
    listed = list_input_files(input_path, None) if listed is None else listed
    if not listed:
        raise UserError(f"no input files found under {input_path}")
    counts: dict[str, int] = {}
    for uri, _size in listed:
        kind = _kind(uri.rsplit("/", 1)[-1])
        counts[kind] = counts.get(kind, 0) + 1
    data = {k: counts.get(k, 0) for k in ("jsonl", "parquet")}
    if not counts.get("other"):
        if data["jsonl"] and data["parquet"]:
            raise UserError(f"{input_path} mixes input formats ({data['jsonl']} JSONL and {data['parquet']} Parquet "
                            f"files): give one format per input folder, or --input-format to read only one")
        return "jsonl" if data["jsonl"] else "parquet"
    top_data = sorted(p.name for p in input_path.iterdir()
                      if p.is_file() and _kind(p.name) in ("jsonl", "parquet"))
    if top_data:
        raise UserError(f"{input_path} holds data files ({', '.join(top_data[:3])}"
                        f"{', ...' if len(top_data) > 3 else ''}) next to other files: give the data files' "
                        f"folder, or --input-format repos to read the folder as repositories")
    return "repo" if is_single_repository(input_path) else "repos"


# ---- the Arrow functions run inside Python workers -------------------------------------

def _empty_columns() -> dict[str, list]:
    return {name: [] for name in ("kind", "source", "locator", "repo_name", "path", "content",
                                  "license", "stars", "size_bytes", "reason", "detail")}


def _add(cols: dict, **values) -> None:
    for name in cols:
        cols[name].append(values.get(name))


def _json_lines(raw: bytes, max_bytes: int):
    """(locator, record, size) of every non-blank line of a JSON Lines file."""
    for lineno, line in enumerate(io.BytesIO(raw), start=1):
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield f"line {lineno}", rules.parse_json_record(line, max_bytes), len(line)


def _expand_jsonl(source: str, raw: bytes, max_bytes: int, cols: dict) -> None:
    if source.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            _add(cols, kind="quarantine", source=source, locator="file", reason=rules.UNREADABLE,
                 detail=f"gzip: {type(err).__name__}", size_bytes=len(raw))
            return
    array = rules.parse_json_array(raw, max_bytes) if source.lower().endswith((".json", ".json.gz")) else None
    for locator, rec, size in (array if array is not None else _json_lines(raw, max_bytes)):
        common = dict(source=source, locator=locator, repo_name=rec.repo_name, path=rec.path, size_bytes=size)
        if rec.reason:
            _add(cols, kind="quarantine", reason=rec.reason, detail=rec.detail, **common)
        else:
            common["size_bytes"] = len(rec.content.encode("utf-8"))
            _add(cols, kind="file", content=rec.content, license=rec.license, stars=rec.stars, **common)


def _expand_repo_file(source: str, root: str, raw: bytes, max_bytes: int, cols: dict,
                      size: int | None = None) -> None:
    relative = source[len(root):].lstrip("/")
    split = rules.split_repo_path(relative)
    if split is None:
        _add(cols, kind="quarantine", source=source, locator="file", reason=rules.MISSING_FIELD,
             detail="file is not inside a repository folder", size_bytes=len(raw))
        return
    repo, path = split
    if rules.is_skipped_repo_path(path):
        if path == rules.REPO_METADATA_FILE:
            _add(cols, kind="meta", source=source, locator="file", repo_name=repo, path=path,
                 content=raw.decode("utf-8", "replace"), size_bytes=len(raw))
        return
    common = dict(source=source, locator="file", repo_name=repo, path=path, size_bytes=size or len(raw))
    if size is not None and size > max_bytes:
        _add(cols, kind="quarantine", reason=rules.OVERSIZED, detail=f"{size} bytes > limit {max_bytes}", **common)
        return
    decoded = rules.decode_content(raw, max_bytes)
    if decoded.reason:
        _add(cols, kind="quarantine", reason=decoded.reason, detail=decoded.detail, **common)
    else:
        _add(cols, kind="file", content=decoded.text, **common)


def expand_input_files(fmt: str, root: str, max_bytes: int, filesystem_uri: str, display_prefix: str):
    """mapInArrow function: (path, size) rows, one per input file → records.

    Bytes are read here, in the worker, through pyarrow.fs (local disk, HDFS, S3, GCS): the
    filesystem is rebuilt from `filesystem_uri` and each file opened by its path, never
    parsed back from a URI (a real repository has paths with spaces, '#' or '%'). The driver
    only lists. An oversized repository file is quarantined from its listed size unread.
    """
    import pyarrow as pa
    from pyarrow import fs as pafs

    def expand(batches):
        filesystem, _ = pafs.FileSystem.from_uri(filesystem_uri)
        for batch in batches:
            cols = _empty_columns()
            for path, size in zip(batch.column("path").to_pylist(), batch.column("size").to_pylist()):
                source = display_prefix + path
                if fmt == "repos" and size > max_bytes and not source.endswith(rules.REPO_METADATA_FILE):
                    _expand_repo_file(source, root, b"", max_bytes, cols, size=size)
                    continue
                try:
                    with filesystem.open_input_stream(path, compression=None) as stream:  # .gz: the caller
                        raw = stream.read()
                except OSError as err:
                    _add(cols, kind="quarantine", source=source, locator="file", reason=rules.UNREADABLE,
                         detail=f"{type(err).__name__} while reading", size_bytes=size)
                    continue
                if fmt == "jsonl":
                    _expand_jsonl(source, raw, max_bytes, cols)
                else:
                    _expand_repo_file(source, root, raw, max_bytes, cols)
            yield pa.RecordBatch.from_pydict(cols, schema=_arrow_schema())

    return expand


def _arrow_schema():
    import pyarrow as pa
    return pa.schema([("kind", pa.string()), ("source", pa.string()), ("locator", pa.string()),
                      ("repo_name", pa.string()), ("path", pa.string()), ("content", pa.string()),
                      ("license", pa.string()), ("stars", pa.int64()), ("size_bytes", pa.int64()),
                      ("reason", pa.string()), ("detail", pa.string())])


# ---- reading each format ---------------------------------------------------------------

def input_filesystem(input_path) -> tuple[str, str, str]:
    """(filesystem URI, the input's path in that filesystem, prefix that names a listed path
    for people): a local path gives the local filesystem and plain absolute paths; a URI
    (s3://, hdfs://, ...) its own filesystem and the scheme as prefix."""
    where = Location(input_path)
    if not where.is_local:
        _, base = where.arrow()
        return where.arrow_uri, base, f"{where.scheme}://"
    return "file:///", where.uri, ""


def list_input_files(input_path, fmt: str | None) -> list[tuple[str, int]]:
    """(path, size) of every input file, hidden ones included (one file: just it).

    Spark's file sources silently skip names starting with '_' or '.' (e.g. `__init__.py`,
    `.codemill-repo.json`), which would lose files without a trace; so the driver lists the
    input itself. VCS folders are not repository content. fmt jsonl keeps only JSONL files.
    """
    from pyarrow import fs as pafs

    fs_uri, base, _ = input_filesystem(input_path)
    filesystem, _ = pafs.FileSystem.from_uri(fs_uri)
    top = filesystem.get_file_info(base)
    if top.type == pafs.FileType.File:
        return [(top.path, top.size)]
    listed = []
    for info in filesystem.get_file_info(pafs.FileSelector(base, recursive=True)):
        if info.type != pafs.FileType.File or "/.git/" in info.path + "/":
            continue
        if fmt == "jsonl" and _kind(info.base_name) != "jsonl":
            continue
        listed.append((info.path, info.size))
    return sorted(listed)


def _read_listed(ctx: StageContext, input_path: Location, fmt: str, max_bytes: int, files: list[tuple[str, int]]):
    if fmt == "jsonl":
        kept = [f for f in files if _kind(f[0].rsplit("/", 1)[-1]) == "jsonl"]
        if len(kept) < len(files):
            ctx.log(f"ingest: WARNING {len(files) - len(kept)} files that are not JSONL are not read "
                    f"(--input-format jsonl)")
        files = kept
    if not files:
        raise UserError(f"no input files found under {input_path}")
    ctx.log(f"ingest: {len(files)} input files listed")
    # Enough partitions to keep every core busy, few enough that task overhead stays small.
    partitions = max(2 * ctx.spark.sparkContext.defaultParallelism, min(len(files) // 2000, 2000))
    listed = ctx.spark.createDataFrame(files, "path string, size long").repartition(partitions)
    fs_uri, base, prefix = input_filesystem(input_path)
    # A repository's files are named relative to the folder holding the repositories: the
    # input itself (repos) or its parent (repo), so the first path part is the repository.
    root = {"repos": prefix + base, "repo": prefix + base.rsplit("/", 1)[0]}.get(fmt, "")
    expand = expand_input_files("repos" if fmt == "repo" else fmt, root, max_bytes, fs_uri, prefix)
    return listed.mapInArrow(expand, RECORD_DDL)


def _first_present(columns: list[str], names: tuple[str, ...]):
    from pyspark.sql import functions as F
    present = [F.col(f"`{n}`") for n in names if n in columns]
    return F.coalesce(*present) if present else F.lit(None)


def _read_parquet(ctx: StageContext, input_path: Location, max_bytes: int):
    """Parquet is read by Spark's vectorized reader; checks are SQL expressions."""
    from pyspark.sql import functions as F

    raw = ctx.spark.read.parquet(str(input_path))
    cols = raw.columns
    license_col = _first_present(cols, rules.FIELD_ALIASES["license"])
    if dict(raw.dtypes).get(next((n for n in rules.FIELD_ALIASES["license"] if n in cols), ""), "").startswith("array"):
        license_col = F.array_join(license_col, ",")
    df = raw.select(
        F.input_file_name().alias("source"),
        _first_present(cols, rules.FIELD_ALIASES["repo_name"]).cast("string").alias("repo_name"),
        _first_present(cols, rules.FIELD_ALIASES["path"]).cast("string").alias("path"),
        _first_present(cols, rules.FIELD_ALIASES["content"]).cast("string").alias("content"),
        license_col.cast("string").alias("license"),
        _first_present(cols, rules.FIELD_ALIASES["stars"]).cast("long").alias("stars"),
    ).withColumn("size_bytes", F.octet_length("content"))
    reason = (F.when(F.col("repo_name").isNull() | (F.col("repo_name") == "") | F.col("path").isNull()
                     | (F.col("path") == "") | F.col("content").isNull(), F.lit(rules.MISSING_FIELD))
               .when(F.col("size_bytes") > max_bytes, F.lit(rules.OVERSIZED))
               .when(F.instr("content", "\u0000") > 0, F.lit(rules.BINARY)))
    detail = (F.when(reason == rules.OVERSIZED, F.format_string(f"%d bytes > limit {max_bytes}", "size_bytes"))
               .when(reason == rules.BINARY, F.format_string("NUL character at offset %d", F.instr("content", "\u0000") - 1))
               .when(reason == rules.MISSING_FIELD, F.lit("repo_name, path or content missing")))
    return (df.withColumn("reason", reason).withColumn("detail", detail)
              .withColumn("kind", F.when(F.col("reason").isNull(), "file").otherwise("quarantine"))
              .withColumn("locator", F.concat(F.lit("row of "), F.col("repo_name"), F.lit(":"), F.col("path")))
              .withColumn("content", F.when(F.col("reason").isNull(), F.col("content"))))


def _with_repo_metadata(records):
    """Apply repository metadata files and LICENSE files to the files of each repository."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    from jobs.core.arrow import series_udf

    meta = (records.filter("kind = 'meta'")
            .select("repo_name", F.from_json("content", "repo_name string, stars long, license string").alias("m"))
            .select(F.col("repo_name").alias("folder_repo"), F.col("m.repo_name").alias("meta_repo"),
                    F.col("m.stars").alias("meta_stars"), F.col("m.license").alias("meta_license")))
    detect = series_udf(rules.detect_license, StringType())
    licenses = (records.filter("kind = 'file'")
                .filter(F.col("path").rlike(r"^(?i)(licen[cs]e|copying|unlicense)([.-][^/]*)?$"))
                # a few rows per repository out of every input partition: gathered into one
                # task per core, so that the detector's Python workers start a few times, not
                # once per partition (35 partitions of the real corpus: 10.6 s of task time)
                .repartition(records.sparkSession.sparkContext.defaultParallelism)
                .select("repo_name", "path", detect("content").alias("detected"))
                .filter("detected IS NOT NULL")
                .groupBy("repo_name").agg(F.min(F.struct("path", "detected")).alias("first"))
                .select(F.col("repo_name").alias("lic_repo"), F.col("first.detected").alias("file_license")))
    files = records.filter("kind != 'meta'")
    # One row per repository on both sides: small, broadcast (the files are never shuffled),
    # and computed once: ingest runs three queries on the records (counts, files, quarantine),
    # and each would otherwise rerun the license detector and the metadata parse.
    meta, licenses = meta.localCheckpoint(eager=True), licenses.localCheckpoint(eager=True)
    joined = (files.join(F.broadcast(meta), files.repo_name == meta.folder_repo, "left")
                   .join(F.broadcast(licenses), files.repo_name == licenses.lic_repo, "left"))
    return joined.select(
        "kind", "source", "locator", F.coalesce("meta_repo", "repo_name").alias("repo_name"), "path", "content",
        F.coalesce("meta_license", "file_license", "license").alias("license"),
        F.coalesce("meta_stars", "stars").alias("stars"), "size_bytes", "reason", "detail")


def add_arguments(parser) -> None:
    parser.add_argument("--input", required=True,
                        help="input file or folder: a .jsonl/.jsonl.gz/.json/.parquet file, a folder of such files, "
                             "one repository's folder, or a folder of repository folders")
    parser.add_argument("--input-format", choices=FORMATS,
                        help="default: detected from the input (repo = one repository folder, repos = a folder of "
                             "repository folders)")


def run(ctx: StageContext) -> StageResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    input_path = Location(ctx.args.input)
    if not input_path.exists():
        raise UserError(f"input not found: {input_path}")
    if incremental.active(ctx):
        incremental.refuse_after_unfinished_run(ctx)  # before any work: nothing to undo
    listed = list_input_files(input_path, None)
    fmt = getattr(ctx.args, "input_format", None) or detect_format(input_path, listed)
    if fmt == "repo" and input_path.is_file():
        raise UserError(f"--input-format repo needs a repository folder, not the file {input_path}")
    max_bytes = ctx.config.ingest.max_file_bytes
    ctx.log(f"ingest: reading {input_path} as {fmt} (max {max_bytes} bytes per file)")

    if fmt == "parquet":
        raw = _read_parquet(ctx, input_path, max_bytes)
    else:
        raw = _read_listed(ctx, input_path, fmt, max_bytes, listed)
    # The input is read once: metadata, license files and the files themselves all come from
    # this cache (as a plain DataFrame each of them would read every input file again).
    raw = raw.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        records = _with_repo_metadata(raw) if fmt in ("repos", "repo") else raw
        records = _mark_duplicate_paths(records)
        ingested_at = now_utc()
        files = (records.filter("kind = 'file'")
                 .withColumn("content_sha256", F.sha2(F.col("content"), 256))
                 .withColumn("run_id", F.lit(ctx.run_id))
                 .withColumn("ingested_at", F.lit(ingested_at)))
        quarantine = (records.filter("kind = 'quarantine'")
                      .withColumn("quarantine_id", stable_id("source", "locator"))
                      .withColumn("run_id", F.lit(ctx.run_id))
                      .withColumn("ingested_at", F.lit(ingested_at)))
        counts = (records.groupBy("kind", "reason")
                  .agg(F.count(F.lit(1)).alias("n"), F.sum("size_bytes").alias("b")).collect())
        if incremental.active(ctx):
            versions, changed = _write_incremental(ctx, files, quarantine)
        else:
            versions = {"bronze/files": _write(ctx, files, "bronze/files", "file_id"),
                        "bronze/quarantine": _write(ctx, quarantine, "bronze/quarantine", "quarantine_id")}
    finally:
        raw.unpersist()
    kept = [r for r in counts if r["kind"] == "file"]
    metrics = {"input": str(input_path), "input_format": fmt}
    if incremental.active(ctx):
        # Only added and changed files are this run's rows; unchanged ones stay as they were.
        n_files = sum(int(r["n"]) for r in kept)
        metrics.update({f"files_{k}": str(changed.get(k, (0, 0))[0]) for k in (incremental.ADDED,
                        incremental.CHANGED, incremental.DELETED)})
        metrics["files_unchanged"] = str(n_files - changed.get(incremental.ADDED, (0, 0))[0]
                                         - changed.get(incremental.CHANGED, (0, 0))[0])
        kept = [{"n": changed.get(k, (0, 0))[0], "b": changed.get(k, (0, 0))[1]}
                for k in (incremental.ADDED, incremental.CHANGED)]
        ctx.log("ingest (incremental): " + ", ".join(f"{k[6:]} {v}" for k, v in metrics.items() if k.startswith("files_")))
    quarantined = [r for r in counts if r["kind"] == "quarantine"]
    reasons: dict[str, int] = {}
    for r in quarantined:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + int(r["n"])
    kept_rows, kept_bytes = sum(int(r["n"]) for r in kept), sum(int(r["b"] or 0) for r in kept)
    return StageResult(
        rows_in=kept_rows + sum(reasons.values()),
        rows_kept=kept_rows,
        rejected_by_reason=reasons,
        bytes_in=kept_bytes + sum(int(r["b"] or 0) for r in quarantined),
        bytes_kept=kept_bytes,
        versions_written=versions,
        metrics=metrics,
    )


def _mark_duplicate_paths(records):
    """Two input records naming the same file (same repo + path): the first in input order is
    ingested, the others are quarantined as duplicate_path, so nothing silently vanishes. The
    duplicates are found on (file_id, source, locator) alone and joined back by broadcast: the
    content is never shuffled."""
    from pyspark.sql import functions as F

    records = records.withColumn("file_id", F.when(F.col("kind") == "file", stable_id("repo_name", "path")))
    firsts = (records.filter("kind = 'file'").groupBy("file_id")
              .agg(F.count(F.lit(1)).alias("_copies"), F.min(F.struct("source", "locator")).alias("_first"))
              .filter("_copies > 1")
              .localCheckpoint(eager=True))  # computed once for the three queries on the records
    marked = records.join(F.broadcast(firsts), "file_id", "left")
    later = F.col("_first").isNotNull() & (F.struct("source", "locator") != F.col("_first"))
    return (marked.withColumn("reason", F.when(later, F.lit(rules.DUPLICATE_PATH)).otherwise(F.col("reason")))
            .withColumn("detail", F.when(later, F.lit("same repo_name and path seen earlier in the input"))
                        .otherwise(F.col("detail")))
            .withColumn("kind", F.when(later, F.lit("quarantine")).otherwise(F.col("kind")))
            .drop("_copies", "_first"))


def _write(ctx: StageContext, df, name: str, key: str) -> int:
    """Into an existing table by MERGE on the key (a re-ingest changes no count); a new table
    is written directly (a MERGE into nothing would join the whole input for no reason)."""
    if ctx.lake.exists(name):
        return ctx.lake.upsert(df, name, (key,))
    return ctx.lake.overwrite(df, name)


def _write_incremental(ctx: StageContext, files, quarantine) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """An incremental ingest (jobs/core/incremental.py): compare the input's files with
    bronze's published version by file_id and content_sha256, record what was added,
    changed or deleted in bronze/changes, remove the changed and deleted files and append
    the added and changed ones (they carry this run's id; unchanged rows keep theirs).
    Returns the versions written and {change: (files, bytes)}."""
    from pyspark.sql import functions as F

    bronze, changes_name = "bronze/files", incremental.CHANGES
    for name in (bronze, "bronze/quarantine"):
        incremental.start_from_published(ctx, name)
    keys = files.select("file_id", "repo_name", "path", "content_sha256", "size_bytes")
    recorded_at = now_utc()
    columns = "file_id string, repo_name string, path string, previous_sha256 string, size_bytes long"
    old = ctx.spark.createDataFrame([], columns)
    if ctx.lake.exists(bronze):
        # bronze as it was before this run: a re-run of the run's ingest compares with the
        # same state as its first attempt (the run's own rows out, what they replaced back in)
        old = (ctx.lake.read(bronze, ctx.lake.version(bronze)).where(F.col("run_id") != ctx.run_id)
               .select("file_id", "repo_name", "path", F.col("content_sha256").alias("previous_sha256"), "size_bytes"))
        if ctx.lake.exists(changes_name):
            prior = (ctx.lake.read(changes_name).where((F.col("run_id") == ctx.run_id)
                                                       & (F.col("change") != incremental.ADDED))
                     .select("file_id", "repo_name", "path", "previous_sha256", F.lit(None).cast("long").alias("size_bytes")))
            old = old.unionByName(prior)
    seen = keys.join(old.select("file_id", "previous_sha256"), "file_id", "left")
    change = F.when(F.col("previous_sha256").isNull(), F.lit(incremental.ADDED)).otherwise(F.lit(incremental.CHANGED))
    new_or_changed = (seen.where(F.col("previous_sha256").isNull() | (F.col("previous_sha256") != F.col("content_sha256")))
                      .withColumn("change", change))
    # An input repository is its complete snapshot: its bronze files missing from the input are deleted.
    repos = (keys.select("repo_name").unionByName(quarantine.where(F.col("repo_name").isNotNull()).select("repo_name"))
             .distinct())
    deleted = (old.join(repos, "repo_name", "left_semi").join(keys.select("file_id"), "file_id", "left_anti")
               .select("file_id", "repo_name", "path", F.lit(None).cast("string").alias("content_sha256"),
                       "previous_sha256", "size_bytes", F.lit(incremental.DELETED).alias("change")))
    rows = (new_or_changed.unionByName(deleted)
            .withColumn("run_id", F.lit(ctx.run_id)).withColumn("recorded_at", F.lit(recorded_at)))
    versions = {changes_name: ctx.lake.replace_where(rows.drop("size_bytes"), changes_name,
                                                     f"run_id = '{ctx.run_id}'")}
    this_run = ctx.lake.read(changes_name).where(F.col("run_id") == ctx.run_id)
    stats = {r["change"]: (int(r["n"]), 0) for r in this_run.groupBy("change").agg(F.count(F.lit(1)).alias("n")).collect()}
    upserted = files.join(this_run.where(F.col("change") != incremental.DELETED).select("file_id"), "file_id", "left_semi")
    byte_counts = (upserted.join(this_run.select("file_id", "change"), "file_id")
                   .groupBy("change").agg(F.sum("size_bytes").alias("b")).collect())
    for r in byte_counts:
        stats[r["change"]] = (stats[r["change"]][0], int(r["b"] or 0))
    # changed and deleted files leave (a MERGE, only when there are any), then the added and
    # changed ones are appended: no MERGE over bronze for a run of new files only
    if not ctx.lake.exists(bronze):
        versions[bronze] = ctx.lake.overwrite(upserted, bronze)
    else:
        versions[bronze] = incremental.replace_slice(ctx, bronze, upserted)
    versions["bronze/quarantine"] = _write(ctx, quarantine, "bronze/quarantine", "quarantine_id")
    return versions, stats


STAGE = Stage(
    name="ingest", inputs=(), outputs=("bronze/files", "bronze/quarantine", incremental.CHANGES), run=run,
    help="raw input (JSONL, Parquet, repository folders) → bronze/files; bad input → bronze/quarantine",
    add_arguments=add_arguments, run_parameters=("input",), rejections="bronze/quarantine",
    checked=("bronze/files", "bronze/quarantine"))
