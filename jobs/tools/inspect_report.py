"""Inspection report: look at samples per extension to set filter thresholds (docs/recipe.md §3.2).

The report re-measures silver/selected (the filter's input) with the filter's own code,
so it shows every file the filter saw, kept or rejected, with its metrics and the rule
that fired. It holds, per extension: counts by outcome, N random (seeded) samples kept
and rejected (content truncated, HTML-escaped), histograms of each metric with the
current threshold, and a suggested threshold (a high percentile for the "too long"
metrics, a low one for the fractions). One self-contained HTML file (PNG plots inline).
"""
from __future__ import annotations

import base64
import io
from pathlib import Path

from jobs.core.stage import StageContext, now_utc
from udfs.heuristics import RULES, FilterRules, suggest_threshold

def _metric_sides(rules: FilterRules) -> dict[str, str]:
    """Every metric some rule limits, with the side a kept file must be on, in rule order."""
    sides: dict[str, str] = {}
    for ext_rules in [rules.defaults, *rules.per_extension.values()]:
        for rule in RULES:
            if rule.limits:
                for metric, side, _limit in rule.limits(ext_rules, rules):
                    sides.setdefault(metric, side)
    return sides


def _current(rules: FilterRules, ext: str) -> dict[str, float]:
    """metric -> the threshold a kept file of `ext` satisfies (absent: not limited)."""
    return {metric: limit for limits in rules.limits(ext).values() for metric, _side, limit in limits}


MAX_PLOTTED_EXTENSIONS = 40
MAX_METRIC_ROWS = 500_000  # metric values collected for plots; sampled above this


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plot_extension(ext: str, rows: list[dict], rules: FilterRules, sides: dict[str, str]) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    current = _current(rules, ext)
    fig, axes = plt.subplots(1, len(sides), figsize=(3.2 * len(sides), 2.4))
    for ax, metric in zip(axes, sides):
        kept = [r[metric] for r in rows if r["reason"] is None and r[metric] is not None]
        dropped = [r[metric] for r in rows if r["reason"] is not None and r[metric] is not None]
        ax.hist([kept, dropped], bins=30, stacked=True, color=["#4c9a5a", "#c0504d"], label=["kept", "rejected"])
        if metric in current:
            ax.axvline(float(current[metric]), color="black", linestyle="--", linewidth=1)
        ax.set_title(metric, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.suptitle(f".{ext}" if ext else "(no extension)", fontsize=9)
    uri = _png(fig)
    plt.close(fig)
    return uri


def _suggestions(ext: str, rows: list[dict], rules: FilterRules, percentile: float, sides: dict[str, str]) -> list[str]:
    current = _current(rules, ext)
    cells = []
    for metric, side in sides.items():
        values = [r[metric] for r in rows]
        pct = percentile if side == "max" else 100 - percentile
        suggested = suggest_threshold(values, pct)
        now = current.get(metric)
        cells.append(f"{metric}: p{pct:g}={'-' if suggested is None else f'{suggested:.3g}'} "
                     f"(now {'off' if now is None else f'{now:g}'})")
    return cells


def build_report(ctx: StageContext, per_extension: int | None = None, out: str | Path | None = None) -> Path:
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from jobs.stages.filter import INPUT, annotate

    rules = ctx.config.filter
    icfg = rules.inspect
    per_extension = int(per_extension or icfg.per_extension)
    seed, percentile, max_chars = icfg.seed, icfg.percentile, icfg.max_chars_shown
    sides = _metric_sides(rules)
    shown = list(sides)
    annotated = annotate(ctx.read_input(INPUT), rules)
    version = ctx.versions_read[INPUT]
    annotated = annotated.withColumn("extension", F.coalesce("extension", F.lit(""))).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        metric_cols = ["extension", "reason", *shown]
        total = annotated.count()
        metrics_df = annotated.select(*metric_cols)
        if total > MAX_METRIC_ROWS:
            metrics_df = metrics_df.sample(fraction=MAX_METRIC_ROWS / total, seed=seed)
        metric_rows = [r.asDict() for r in metrics_df.collect()]
        outcome = F.when(F.col("reason").isNull(), "kept").otherwise("rejected")
        window = Window.partitionBy("extension", outcome).orderBy(F.rand(seed))
        samples = (annotated.withColumn("_n", F.row_number().over(window)).filter(F.col("_n") <= per_extension)
                   .select("repo_name", "path", "language", "extension", "reason", "detail", *shown,
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

    from jobs.core.templates import render
    extensions = []
    for i, ext in enumerate(order):
        rows = by_ext[ext]
        reasons: dict[str, int] = {}
        for r in rows:
            if r["reason"]:
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        shown_samples = []
        for s in sorted(samples_by_ext.get(ext, []), key=lambda s: (s["reason"] is None, s["reason"] or "", s["path"])):
            shown_samples.append({
                "css": "kept" if s["reason"] is None else "rej",
                "verdict": "kept" if s["reason"] is None else f"{s['reason']}: {s['detail']}",
                "repo_name": s["repo_name"], "path": s["path"], "language": s["language"] or "?", "chars": s["chars"],
                "metrics": ", ".join(f"{m}={s[m]:.3g}" if isinstance(s[m], float) else f"{m}={s[m]}" for m in shown),
                "excerpt": s["excerpt"] or "", "truncated": (s["chars"] or 0) > max_chars})
        extensions.append({
            "name": ext, "files": len(rows), "kept": sum(1 for r in rows if r["reason"] is None),
            "reasons": ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())),
            "suggestions": _suggestions(ext, rows, rules, percentile, sides),
            "plot": _plot_extension(ext, rows, rules, sides) if i < MAX_PLOTTED_EXTENSIONS else None,
            "samples": shown_samples})
    page = render(Path(__file__).resolve().parent / "templates", "inspection.html.j2",
                  lake=str(ctx.lake.root), version=version, total=total, generated=f"{now_utc():%Y-%m-%d %H:%M}",
                  per_extension=per_extension, seed=seed, max_chars=max_chars,
                  high=f"{percentile:g}", low=f"{100 - percentile:g}", extensions=extensions)
    target = Path(out) if out else ctx.lake.workspace / "reports" / "inspection.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target
