"""Inspection report: look at samples per extension to set filter thresholds (FACTS §3.2).

The report re-measures silver/selected (the filter's input) with the filter's own code,
so it shows every file the filter saw, kept or rejected, with its metrics and the rule
that fired. It holds, per extension: counts by outcome, N random (seeded) samples kept
and rejected (content truncated, HTML-escaped), histograms of each metric with the
current threshold, and a suggested threshold (a high percentile for the "too long"
metrics, a low one for the fractions). One self-contained HTML file (PNG plots inline).
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from jobs.stage import StageContext, UserError, now_utc
from udfs.heuristics import FilterRules, suggest_threshold

# metric -> (which tail a threshold cuts, ExtensionRules field holding the current threshold)
METRICS = {
    "max_line_length": ("high", "max_line_length"),
    "avg_line_length": ("high", "avg_line_length"),
    "alphanum_fraction": ("low", "alphanum_fraction"),
    "alpha_fraction": ("low", "alpha_fraction"),
    "encoded_fraction": ("high", None),
    "line_count": ("high", "max_lines"),
}
MAX_PLOTTED_EXTENSIONS = 40
MAX_METRIC_ROWS = 500_000  # metric values collected for plots; sampled above this


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plot_extension(ext: str, rows: list[dict], rules: FilterRules) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ext_rules = rules.for_extension(ext)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 2.4))
    for ax, (metric, (_, field)) in zip(axes, METRICS.items()):
        kept = [r[metric] for r in rows if r["reason"] is None and r[metric] is not None]
        dropped = [r[metric] for r in rows if r["reason"] is not None and r[metric] is not None]
        ax.hist([kept, dropped], bins=30, stacked=True, color=["#4c9a5a", "#c0504d"], label=["kept", "rejected"])
        current = getattr(ext_rules, field) if field else (rules.encoded_max_fraction if metric == "encoded_fraction" else None)
        if current is not None and (metric != "avg_line_length" or ext_rules.max_line_length is not None):
            ax.axvline(float(current), color="black", linestyle="--", linewidth=1)
        ax.set_title(metric, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.suptitle(f".{ext}" if ext else "(no extension)", fontsize=9)
    uri = _png(fig)
    plt.close(fig)
    return uri


def _suggestions(ext: str, rows: list[dict], rules: FilterRules, percentile: float) -> list[str]:
    ext_rules = rules.for_extension(ext)
    cells = []
    for metric, (tail, field) in METRICS.items():
        values = [r[metric] for r in rows]
        suggested = suggest_threshold(values, percentile if tail == "high" else 100 - percentile)
        current = getattr(ext_rules, field) if field else rules.encoded_max_fraction
        label = f"p{percentile:g}" if tail == "high" else f"p{100 - percentile:g}"
        cells.append(f"{metric}: {label}={'-' if suggested is None else f'{suggested:.3g}'} "
                     f"(now {'off' if current is None else current})")
    return cells


def build_report(ctx: StageContext, per_extension: int | None = None, out: str | Path | None = None) -> Path:
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from jobs.filter import annotate

    icfg = (ctx.config.get("filter") or {}).get("inspect") or {}
    per_extension = int(per_extension or icfg.get("per_extension", 100))
    seed = int(icfg.get("seed", 42))
    percentile = float(icfg.get("percentile", 99))
    max_chars = int(icfg.get("max_chars_shown", 2000))
    if not ctx.lake.exists("silver/selected"):
        raise UserError(f"silver/selected does not exist in {ctx.lake.root}: run select first")
    rules = FilterRules.from_config(ctx.config.get("filter"))
    version = ctx.lake.version("silver/selected")
    annotated = annotate(ctx.lake.read("silver/selected", version=version), rules)
    annotated = annotated.withColumn("extension", F.coalesce("extension", F.lit(""))).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        metric_cols = ["extension", "reason", *METRICS]
        total = annotated.count()
        metrics_df = annotated.select(*metric_cols)
        if total > MAX_METRIC_ROWS:
            metrics_df = metrics_df.sample(fraction=MAX_METRIC_ROWS / total, seed=seed)
        metric_rows = [r.asDict() for r in metrics_df.collect()]
        outcome = F.when(F.col("reason").isNull(), "kept").otherwise("rejected")
        window = Window.partitionBy("extension", outcome).orderBy(F.rand(seed))
        samples = (annotated.withColumn("_n", F.row_number().over(window)).filter(F.col("_n") <= per_extension)
                   .select("repo_name", "path", "language", "extension", "reason", "detail", *METRICS,
                           F.length("content").alias("chars"), F.substring("content", 1, max_chars).alias("excerpt"))
                   .collect())
    finally:
        annotated.unpersist()

    by_ext: dict[str, list[dict]] = {}
    for r in metric_rows:
        by_ext.setdefault(r["extension"], []).append(r)
    samples_by_ext: dict[str, list] = {}
    for s in samples:
        samples_by_ext.setdefault(s["extension"], []).append(s)
    order = sorted(by_ext, key=lambda e: -len(by_ext[e]))

    esc = html.escape
    parts = [f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>codemill inspection report</title>
<style>body{{font-family:sans-serif;margin:1.5em;}} table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;vertical-align:top}} pre{{background:#f6f6f6;max-height:18em;overflow:auto;
font-size:11px;white-space:pre-wrap}} details{{margin:4px 0}} .rej{{color:#a02020}} .kept{{color:#207020}}</style>
</head><body><h1>codemill inspection report</h1>
<p>Lake {esc(str(ctx.lake.root))}, silver/selected version {version}, {total} files, generated {now_utc():%Y-%m-%d %H:%M} UTC.
Metrics and outcomes are the filter stage's own (udfs/heuristics.py, thresholds from configs/pipeline.yaml).
Up to {per_extension} random samples (seed {seed}) per extension and outcome; content truncated to {max_chars} chars.
Suggested thresholds: p{percentile:g} of the extension's files for the "too long" metrics, p{100 - percentile:g} for
the fractions (a threshold there would drop about {100 - percentile:g}% of files).</p>
<h2>Summary</h2><table><tr><th>extension</th><th>files</th><th>kept</th><th>rejected by rule</th><th>suggested thresholds</th></tr>"""]
    for ext in order:
        rows = by_ext[ext]
        reasons: dict[str, int] = {}
        for r in rows:
            if r["reason"]:
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        kept = sum(1 for r in rows if r["reason"] is None)
        parts.append(f"<tr><td><a href='#ext-{esc(ext)}'>.{esc(ext)}</a></td><td>{len(rows)}</td><td>{kept}</td>"
                     f"<td>{esc(', '.join(f'{k}={v}' for k, v in sorted(reasons.items())) or '-')}</td>"
                     f"<td>{'<br>'.join(esc(c) for c in _suggestions(ext, rows, rules, percentile))}</td></tr>")
    parts.append("</table>")
    for i, ext in enumerate(order):
        parts.append(f"<h2 id='ext-{esc(ext)}'>.{esc(ext)} ({len(by_ext[ext])} files)</h2>")
        if i < MAX_PLOTTED_EXTENSIONS:
            parts.append(f"<img alt='metric distributions for .{esc(ext)}' src='{_plot_extension(ext, by_ext[ext], rules)}'>")
        for s in sorted(samples_by_ext.get(ext, []), key=lambda s: (s["reason"] is None, s["reason"] or "", s["path"])):
            cls, verdict = ("kept", "kept") if s["reason"] is None else ("rej", f"{s['reason']}: {s['detail']}")
            metrics = ", ".join(f"{m}={s[m]:.3g}" if isinstance(s[m], float) else f"{m}={s[m]}" for m in METRICS)
            parts.append(f"<details><summary><span class='{cls}'>{esc(verdict)}</span> — {esc(s['repo_name'])}/"
                         f"{esc(s['path'])} ({esc(s['language'] or '?')}, {s['chars']} chars)</summary>"
                         f"<div>{esc(metrics)}</div><pre>{esc(s['excerpt'] or '')}"
                         f"{'…[truncated]' if (s['chars'] or 0) > max_chars else ''}</pre></details>")
    parts.append("</body></html>")
    target = Path(out) if out else ctx.lake.root / "reports" / "inspection.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(parts), encoding="utf-8")
    return target
