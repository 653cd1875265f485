"""The run report: one self-contained HTML page per run at <lake>/reports/run-<run_id>.html.

Everything comes from the lake, through Spark aggregates (group-bys and counts; no table is
collected row by row): ops/runs (funnel, seconds, tokens), silver/rejections and
bronze/quarantine (reasons), silver/dup_clusters (cluster sizes), silver/pii_findings
(types, never values), ops/dq_results (the gates). Plots are matplotlib PNGs embedded as
base64 data URIs, so the page can be mailed or archived alone. A section whose table does
not exist yet says so.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from jobs.stages import stage_names
from quality_checks.gates import latest_results
from quality_checks.suites import AFTER_SELECT

STAGE_ORDER = stage_names()
FILE_TABLES = AFTER_SELECT  # the file tables that carry a language


def latest_run_id(lake) -> str | None:
    if not lake.exists("ops/runs"):
        return None
    rows = lake.read("ops/runs").orderBy("started_at", ascending=False).select("run_id").limit(1).collect()
    return rows[0]["run_id"] if rows else None


def report_path(lake_root: Path, run_id: str) -> Path:
    return Path(lake_root) / "reports" / f"run-{run_id}.html"


# ---- plots ----------------------------------------------------------------------------

def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float = 8, height: float = 3.6):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt.subplots(figsize=(width, height))


def _hbar(labels: list[str], values: list[float], title: str, xlabel: str, color: str = "#3b7dd8") -> str:
    fig, ax = _figure(8, max(2.2, 0.32 * len(labels) + 1.2))
    ax.barh(range(len(labels)), values, color=color)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:,.0f}", va="center", fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _funnel_plot(stages: list[str], rows_in: list[int], kept: list[int], bytes_in: list[int],
                 bytes_kept: list[int]) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    x = range(len(stages))
    a1.bar([i - 0.2 for i in x], rows_in, width=0.4, label="in", color="#9bbbe8")
    a1.bar([i + 0.2 for i in x], kept, width=0.4, label="kept", color="#2e6fd0")
    a1.set_xticks(list(x))
    a1.set_xticklabels(stages, rotation=30, ha="right", fontsize=8)
    a1.set_title("files per stage")
    a1.legend(fontsize=8)
    mib = 1024 * 1024
    a2.bar([i - 0.2 for i in x], [b / mib for b in bytes_in], width=0.4, label="in", color="#f2b880")
    a2.bar([i + 0.2 for i in x], [b / mib for b in bytes_kept], width=0.4, label="kept", color="#d9731f")
    a2.set_xticks(list(x))
    a2.set_xticklabels(stages, rotation=30, ha="right", fontsize=8)
    a2.set_title("MiB per stage")
    a2.legend(fontsize=8)
    for ax in (a1, a2):
        ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _language_plot(langs: list[str], tables: list[str], counts: dict[tuple[str, str], int]) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.35 * len(langs) + 1.2)))
    height = 0.8 / max(1, len(tables))
    palette = ["#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"]
    for j, t in enumerate(tables):
        ax.barh([i + j * height for i in range(len(langs))], [counts.get((t, lang), 0) for lang in langs],
                height=height, label=t, color=palette[j % len(palette)])
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(langs))])
    ax.set_yticklabels(langs, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("files")
    ax.set_title("files per language through the stages")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _histogram(sizes: dict[int, int], title: str) -> str:
    fig, ax = _figure(8, 3.2)
    xs = sorted(sizes)
    ax.bar([str(x) for x in xs], [sizes[x] for x in xs], color="#7b4fbf")
    ax.set_xlabel("files in cluster")
    ax.set_ylabel("clusters")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


# ---- page -----------------------------------------------------------------------------

@dataclass
class Section:
    """One section of the page: a title and its blocks (see templates/run_report.html.j2)."""
    title: str
    body: list[dict] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return self.title.lower().replace(" ", "-")


def _img(b64: str, alt: str) -> dict:
    return {"kind": "img", "png": b64, "alt": alt}


def _table(headers: list[str], rows: list[list]) -> dict:
    return {"kind": "table", "headers": headers, "rows": rows}


def _para(text: str, css: str = "") -> dict:
    return {"kind": "p", "text": text, "class": css}


def _absent(table_name: str) -> dict:
    return {"kind": "absent", "table": table_name}


TEMPLATES = Path(__file__).resolve().parent / "templates"


def _runs(lake, run_id: str) -> list:
    rows = lake.read("ops/runs").where(f"run_id = '{run_id}'").collect()
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    return sorted(rows, key=lambda r: order.get(r["stage"], 99))


def build_report(lake, run_id: str | None = None, out_path: Path | None = None) -> Path:
    """Write the run report of `run_id` (default: the latest run); returns its path."""
    from pyspark.sql import functions as F

    from jobs.core.errors import UserError

    run_id = run_id or latest_run_id(lake)
    if run_id is None:
        raise UserError(f"no runs recorded in {lake.root / 'ops' / 'runs'}: run `codemill run` first")
    runs = _runs(lake, run_id)
    if not runs:
        raise UserError(f"run {run_id} not found in ops/runs of {lake.root}")
    out_path = out_path or report_path(lake.workspace, run_id)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sections: list[Section] = []

    # Funnel of files and bytes through every stage.
    s = Section("Funnel")
    s.body.append(_img(_funnel_plot([r["stage"] for r in runs], [r["rows_in"] or 0 for r in runs],
                                    [r["rows_kept"] or 0 for r in runs], [r["bytes_in"] or 0 for r in runs],
                                    [r["bytes_kept"] or 0 for r in runs]), "files and bytes per stage"))
    s.body.append(_table(["stage", "status", "files in", "kept", "rejected", "MiB in", "MiB kept", "seconds"],
                         [[r["stage"], r["status"], r["rows_in"], r["rows_kept"], r["rows_rejected"],
                           None if r["bytes_in"] is None else f"{r['bytes_in'] / 2**20:.2f}",
                           None if r["bytes_kept"] is None else f"{r['bytes_kept'] / 2**20:.2f}",
                           f"{r['seconds']:.1f}"] for r in runs]))
    sections.append(s)

    # Per language: files in each language-bearing table, at its published version (what
    # readers see: a version whose gate failed is not counted; jobs/core/publish.py).
    s = Section("Languages")
    seen = {t: lake.published_version(t) for t in (*FILE_TABLES, "silver/dup_clusters", "silver/pii_findings")}
    present = [t for t in FILE_TABLES if seen[t] is not None]
    if present:
        counts: dict[tuple[str, str], int] = {}
        sizes: dict[tuple[str, str], int] = {}
        for t in present:
            for r in (lake.read(t, seen[t]).groupBy(F.coalesce("language", F.lit("unknown")).alias("language"))
                      .agg(F.count("*").alias("n"), F.sum("size_bytes").alias("b")).collect()):
                counts[(t, r["language"])] = int(r["n"])
                sizes[(t, r["language"])] = int(r["b"] or 0)
        langs = sorted({lang for (_t, lang) in counts}, key=lambda lang: -counts.get((present[0], lang), 0))
        s.body.append(_img(_language_plot(langs[:30], present, counts), "files per language"))
        s.body.append(_table(["language"] + [f"{t} files" for t in present] + [f"{present[-1]} KiB"],
                             [[lang] + [counts.get((t, lang), 0) for t in present]
                              + [f"{sizes.get((present[-1], lang), 0) / 1024:.1f}"] for lang in langs]))
    else:
        s.body.append(_absent("silver/selected"))
    sections.append(s)

    # Rejection reasons (every stage of this run) and quarantine reasons (ingest).
    s = Section("Rejections")
    reason_rows: list[tuple[str, str, int]] = []
    if lake.exists("silver/rejections"):
        reason_rows += [(r["stage"], r["reason"], int(r["count"])) for r in
                        lake.read("silver/rejections").where(f"run_id = '{run_id}'")
                        .groupBy("stage", "reason").count().collect()]
    if lake.exists("bronze/quarantine"):
        reason_rows += [("ingest", r["reason"], int(r["count"])) for r in
                        lake.read("bronze/quarantine").where(f"run_id = '{run_id}'").groupBy("reason").count().collect()]
    order = {st: i for i, st in enumerate(STAGE_ORDER)}
    reason_rows.sort(key=lambda x: (order.get(x[0], 99), -x[2], x[1]))
    if reason_rows:
        s.body.append(_img(_hbar([f"{st}: {reason}" for st, reason, _n in reason_rows], [n for *_x, n in reason_rows],
                                 "files dropped, by stage and reason", "files", "#c0504d"), "rejection reasons"))
        s.body.append(_table(["stage", "reason", "files"], [list(x) for x in reason_rows]))
    elif not lake.exists("silver/rejections") and not lake.exists("bronze/quarantine"):
        s.body.append(_absent("silver/rejections"))
    else:
        s.body.append(_para("No file was dropped in this run."))
    sections.append(s)

    # Duplicate clusters.
    s = Section("Duplicates")
    if seen["silver/dup_clusters"] is not None:
        # One row per file; a cluster is "near" when any member was matched as a near duplicate.
        per_cluster = lake.read("silver/dup_clusters", seen["silver/dup_clusters"]).groupBy("cluster_id").agg(
            F.count("*").alias("size"),
            F.when(F.max((F.col("method") == "near").cast("int")) == 1, "near").otherwise("exact").alias("kind"))
        hist = per_cluster.groupBy("kind", "size").agg(F.count("*").alias("clusters")).collect()
        if hist:
            sizes_all: dict[int, int] = {}
            for r in hist:
                sizes_all[int(r["size"])] = sizes_all.get(int(r["size"]), 0) + int(r["clusters"])
            s.body.append(_img(_histogram(sizes_all, "duplicate-cluster sizes (exact and near)"), "cluster sizes"))
            s.body.append(_table(["cluster kind", "cluster size", "clusters"],
                                 [[r["kind"], int(r["size"]), int(r["clusters"])]
                                  for r in sorted(hist, key=lambda r: (r["kind"], r["size"]))]))
        else:
            s.body.append(_para("No duplicate clusters found."))
    else:
        s.body.append(_absent("silver/dup_clusters"))
    sections.append(s)

    # PII findings by type.
    s = Section("PII")
    if seen["silver/pii_findings"] is not None:
        by_type = (lake.read("silver/pii_findings", seen["silver/pii_findings"]).groupBy("type", "detector")
                   .agg(F.count("*").alias("n"), F.countDistinct("file_id").alias("files")).collect())
        if by_type:
            totals: dict[str, int] = {}
            for r in by_type:
                totals[r["type"]] = totals.get(r["type"], 0) + int(r["n"])
            labels = sorted(totals, key=lambda t: -totals[t])
            s.body.append(_img(_hbar(labels, [totals[t] for t in labels], "PII findings by type (redacted)",
                                     "findings", "#8064a2"), "PII findings by type"))
            s.body.append(_table(["type", "detector", "findings", "files"],
                                 [[r["type"], r["detector"], int(r["n"]), int(r["files"])]
                                  for r in sorted(by_type, key=lambda r: (r["type"], -r["n"]))]))
        else:
            s.body.append(_para("No PII found."))
    else:
        s.body.append(_absent("silver/pii_findings"))
    sections.append(s)

    # Tokens per language (tokenize metrics in ops/runs).
    s = Section("Tokens")
    tok = next((r for r in runs if r["stage"] == "tokenize"), None)
    if tok is not None:
        metrics = tok["metrics"] or {}
        per_lang = {k.split(".", 1)[1]: int(v) for k, v in metrics.items() if k.startswith("tokens.") and v.isdigit()}
        if per_lang:
            labels = sorted(per_lang, key=lambda k: -per_lang[k])
            s.body.append(_img(_hbar(labels, [per_lang[k] for k in labels], "tokens per language", "tokens",
                                     "#4bacc6"), "tokens per language"))
        keys = ("tokens_total", "sequences", "seq_len", "sequence_tokens", "padding_tokens", "dropped_tokens")
        s.body.append(_table(["metric", "value"], [[k, metrics[k]] for k in keys if k in metrics]))
    else:
        s.body.append(_absent("gold/tokens") if not lake.exists("gold/tokens")
                      else _para("The tokenize stage did not run in this run."))
    sections.append(s)

    # Seconds per stage.
    s = Section("Time")
    s.body.append(_img(_hbar([r["stage"] for r in runs], [float(r["seconds"]) for r in runs], "seconds per stage",
                             "seconds", "#9bbb59"), "seconds per stage"))
    sections.append(s)

    # Gates.
    s = Section("Quality gates")
    if lake.exists("ops/dq_results"):
        dq = latest_results(lake, run_id)
        summary = dq.groupBy("stage", "table_name").agg(
            F.count("*").alias("n"), F.sum(F.when(~F.col("success"), 1).otherwise(0)).alias("failed"),
            F.sum(F.when(F.col("detail").startswith("skipped:"), 1).otherwise(0)).alias("skipped")).collect()
        if summary:
            s.body.append(_table(["stage", "table", "expectations", "failed", "skipped"],
                                 [[r["stage"], r["table_name"], int(r["n"]), int(r["failed"]), int(r["skipped"])]
                                  for r in sorted(summary, key=lambda r: (order.get(r["stage"], 99), r["table_name"]))]))
            failures = dq.where("NOT success").collect()
            if failures:
                s.body.append(_para("Failed expectations:", "fail"))
                s.body.append(_table(["table", "expectation", "failing rows", "sample ids", "detail"],
                                     [[r["table_name"], r["expectation"], r["unexpected_count"],
                                       ", ".join(r["sample_file_ids"] or []), r["detail"]] for r in failures]))
            else:
                s.body.append(_para("Every expectation checked for this run passed.", "ok"))
        else:
            s.body.append(_para("No gate ran for this run."))
    else:
        s.body.append(_absent("ops/dq_results"))
    sections.append(s)

    from jobs.core.templates import render
    reports = lake.workspace / "reports"
    page = render(TEMPLATES, "run_report.html.j2", run_id=run_id, lake=str(lake.root),
                  generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  stages=[r["stage"] for r in runs], sections=sections,
                  docs_built=(reports / "data_docs" / "index.html").exists(),
                  inspection_written=(reports / "inspection.html").exists())
    out_path.write_text(page, encoding="utf-8")
    return out_path

