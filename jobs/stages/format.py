"""Format stage: gold/files → gold/training_docs (StarCoder / StarCoder2 document formats).

    codemill format --lake DIR [--config FILE] [--run-id ID] [--mode file|repo]

`format.mode` (config) chooses the layout:
* file — StarCoder (docs/recipe.md §7.1): one document per file, `<reponame>`, `<filename>`,
  `<gh_stars>` prefixes each with probability 0.2, seeded per file from (seed, file_id);
* repo — StarCoder2 (docs/recipe.md §7.3): one document per repository, files in a seeded random
  order separated by `<file_sep>`, with repository name and paths with probability 0.5.
Notebooks (.ipynb) become structured Jupyter documents (docs/recipe.md §1.5) in both modes; a notebook
that yields none (not Python, no markdown→code pair, not JSON) is rejected with reason
`jupyter_unrenderable`. Special-token strings inside file content are removed first (only
the PII placeholders stay), so structure tokens appear only where this stage puts them.
Every document ends with `<|endoftext|>`.
"""
from __future__ import annotations

import hashlib

from jobs.core import incremental
from jobs.core.errors import UserError
from jobs.core.stage import Stage, StageContext, StageResult, write_rejections
from udfs import formatting as fmt

INPUT = "gold/files"
OUTPUT = "gold/training_docs"
MODES = ("file", "repo")
JUPYTER_UNRENDERABLE = "jupyter_unrenderable"

# What the formatting functions emit: a document, or a rejected file.
OUT_DDL = ("kind string, doc_id string, repo_name string, language string, file_ids array<string>, "
           "text string, format string, n_files long, bytes_in long, tokens_stripped long, "
           "file_id string, path string, size_bytes long, detail string")
OUT_COLUMNS = [c.split()[0] for c in OUT_DDL.split(", ")]


def _row(**values) -> dict:
    return {c: values.get(c) for c in OUT_COLUMNS}


def _clean(value: str | None) -> tuple[str, int]:
    return fmt.strip_structural_tokens(value or "")


def file_docs_fn(seed: int, prob: float):
    """mapInPandas: plain files → one StarCoder file-level document each."""
    import pandas as pd

    def run(frames):
        for pdf in frames:
            rows = []
            for r in pdf.itertuples(index=False):
                content, n1 = _clean(r.content)
                repo, n2 = _clean(r.repo_name)
                path, n3 = _clean(r.path)
                stars = None if pd.isna(r.stars) else int(r.stars)
                text = fmt.file_document(content, repo, path, stars, fmt.seeded_rng(seed, r.file_id), prob)
                rows.append(_row(kind="doc", doc_id=r.file_id, repo_name=r.repo_name, language=r.language,
                                 file_ids=[r.file_id], text=text, format="file", n_files=1,
                                 bytes_in=int(r.size_bytes or 0), tokens_stripped=n1 + n2 + n3))
            yield pd.DataFrame(rows, columns=OUT_COLUMNS)
    return run


def jupyter_docs_fn():
    """mapInPandas: notebooks → structured Jupyter documents, or rejections."""
    import pandas as pd

    def run(frames):
        for pdf in frames:
            rows = []
            for r in pdf.itertuples(index=False):
                content, stripped = _clean(r.content)
                try:
                    text = fmt.jupyter_document(content)
                except fmt.NotebookError as err:
                    rows.append(_row(kind="reject", repo_name=r.repo_name, language=r.language, file_id=r.file_id,
                                     path=r.path, size_bytes=int(r.size_bytes or 0), detail=str(err)))
                    continue
                rows.append(_row(kind="doc", doc_id=r.file_id, repo_name=r.repo_name,
                                 language="jupyter-structured", file_ids=[r.file_id], text=text, format="jupyter",
                                 n_files=1, bytes_in=int(r.size_bytes or 0), tokens_stripped=stripped))
            yield pd.DataFrame(rows, columns=OUT_COLUMNS)
    return run


def repo_doc_fn(seed: int, prob: float):
    """applyInPandas per repository: all its plain files → one StarCoder2 document."""
    import pandas as pd

    def run(pdf):
        repo = pdf["repo_name"].iloc[0]
        stripped = 0
        files = []
        for r in pdf.itertuples(index=False):
            content, n1 = _clean(r.content)
            path, n2 = _clean(r.path)
            stripped += n1 + n2
            files.append(fmt.RepoFile(r.file_id, path, content))
        clean_repo, n3 = _clean(repo)
        text, order = fmt.repo_document(clean_repo, files, fmt.seeded_rng(seed, f"repo\x00{repo}"), prob)
        doc_id = hashlib.sha256(f"repo\x00{repo}".encode()).hexdigest()[:32]
        row = _row(kind="doc", doc_id=doc_id, repo_name=repo,
                   language=fmt.majority_language([None if pd.isna(x) else x for x in pdf["language"]]),
                   file_ids=order, text=text, format="repo", n_files=len(order),
                   bytes_in=int(pdf["size_bytes"].fillna(0).sum()), tokens_stripped=stripped + n3)
        return pd.DataFrame([row], columns=OUT_COLUMNS)
    return run


def add_arguments(parser) -> None:
    parser.add_argument("--mode", choices=MODES, help="override format.mode from the config")


def config_overrides(args) -> dict:
    return {"format": {"mode": args.mode}} if getattr(args, "mode", None) else {}


def run(ctx: StageContext) -> StageResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    cfg = ctx.config.format
    if incremental.active(ctx) and cfg.mode != "file":
        raise UserError("an incremental run re-forms only its new files' documents: it supports format.mode file "
                        "(one document per file); with format.mode repo run the whole pipeline (`codemill run` "
                        "without --incremental)")
    files = ctx.read_input(INPUT, ["file_id", "repo_name", "path", "content", "stars", "language", "size_bytes"])
    is_nb = F.lower(F.col("path")).endswith(".ipynb")
    notebooks = files.filter(is_nb).mapInPandas(jupyter_docs_fn(), OUT_DDL)
    plain = files.filter(~is_nb)
    if cfg.mode == "file":
        plain_docs = plain.mapInPandas(file_docs_fn(cfg.seed, cfg.file_metadata_prob), OUT_DDL)
    else:
        plain_docs = plain.groupBy("repo_name").applyInPandas(repo_doc_fn(cfg.seed, cfg.repo_metadata_prob), OUT_DDL)
    out = notebooks.unionByName(plain_docs).persist(StorageLevel.MEMORY_AND_DISK)

    docs = out.filter("kind = 'doc'")
    rejected = (out.filter("kind = 'reject'")
                .select("file_id", "repo_name", "path", F.lit(JUPYTER_UNRENDERABLE).alias("reason"),
                        "detail", "size_bytes", "language"))
    rejections = write_rejections(ctx, STAGE.name, rejected)
    docs = docs.withColumn("run_id", F.lit(ctx.run_id))
    if incremental.active(ctx):
        # file mode: a document's doc_id is its file's file_id, so this run's changed files
        # name the documents it replaces
        written = incremental.replace_slice(ctx, OUTPUT, docs, key="doc_id",
                                            remove=incremental.replaced_ids(ctx).withColumnRenamed("file_id", "doc_id"))
    else:
        written = ctx.lake.overwrite(docs, OUTPUT)

    stats = out.groupBy("kind", "format").agg(
        F.count("*").alias("docs"), F.sum("n_files").alias("files"), F.sum("bytes_in").alias("bytes"),
        F.sum("size_bytes").alias("rejected_bytes"), F.sum("tokens_stripped").alias("stripped")).collect()
    out.unpersist()
    kept_files = sum(int(r["files"] or 0) for r in stats if r["kind"] == "doc")
    kept_bytes = sum(int(r["bytes"] or 0) for r in stats if r["kind"] == "doc")
    n_rejected = sum(int(r["docs"]) for r in stats if r["kind"] == "reject")
    rejected_bytes = sum(int(r["rejected_bytes"] or 0) for r in stats if r["kind"] == "reject")
    metrics = {"mode": cfg.mode, "seed": str(cfg.seed),
               "special_token_strings_removed": str(sum(int(r["stripped"] or 0) for r in stats if r["kind"] == "doc"))}
    for r in stats:
        if r["kind"] == "doc":
            metrics[f"docs.{r['format']}"] = str(r["docs"])
    return StageResult(
        rows_in=kept_files + n_rejected, rows_kept=kept_files,
        rejected_by_reason={JUPYTER_UNRENDERABLE: n_rejected} if n_rejected else {},
        bytes_in=kept_bytes + rejected_bytes, bytes_kept=kept_bytes,
        versions_written={OUTPUT: written, "silver/rejections": rejections}, metrics=metrics)


STAGE = Stage(
    name="format", inputs=(INPUT,), outputs=(OUTPUT,), run=run,
    help="StarCoder file-level or StarCoder2 repository-level training documents: gold/files → gold/training_docs",
    add_arguments=add_arguments, config_overrides=config_overrides)

