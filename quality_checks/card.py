"""The dataset card: Markdown generated from the lake and the config at
<lake>/reports/dataset_card.md, for the people who decide whether to train on (or publish)
the data: what is in it, what was removed and why, with which parameters, and exactly which
Delta versions the card describes. Counts only: no file content, no PII, no opt-out names.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from jobs.core.stage import REJECTIONS
from jobs.stages import STAGES, stage_names
from quality_checks.gates import latest_results
from quality_checks.suites import FILE_TABLES
from udfs.heuristics import RULES
from udfs.typedconfig import to_mapping

# Every table the stages write, in pipeline order, then the lake's bookkeeping tables.
DESCRIBED_TABLES = tuple(dict.fromkeys([t for s in STAGES for t in s.outputs]
                                       + [REJECTIONS, "governance/optout", "governance/optout_log", "ops/runs",
                                          "ops/dq_results"]))
# The file-level table the card describes: the last one of the pipeline that exists.
FINAL_CANDIDATES = tuple(reversed([t for t in DESCRIBED_TABLES if t in FILE_TABLES]))


def _stage_order(name: str) -> int:
    names = stage_names()
    return names.index(name) if name in names else len(names)


def card_path(lake_root: Path) -> Path:
    return Path(lake_root) / "reports" / "dataset_card.md"


def _md_table(headers: list[str], rows: list[list]) -> list[str]:
    def cell(v):
        if v is None:
            return ""
        if isinstance(v, int):
            return f"{v:,}"
        return str(v).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def _fmt(value) -> str:
    if value is None:
        return "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _latest_stage_runs(lake) -> dict[str, object]:
    if not lake.exists("ops/runs"):
        return {}
    latest = {}
    for r in lake.read("ops/runs").where("status = 'succeeded'").collect():
        if r["stage"] not in latest or r["started_at"] > latest[r["stage"]]["started_at"]:
            latest[r["stage"]] = r
    return latest


def _seen(lake, name: str) -> int | None:
    """The version of `name` the card describes: the published one (jobs/core/publish.py) of a
    stage's table, the latest of the bookkeeping tables (ops/, governance/); None: absent."""
    if name.startswith(("ops/", "governance/")):
        return lake.version(name)
    return lake.published_version(name)


def build_card(lake, config, out_path: Path | None = None) -> Path:
    from pyspark.sql import functions as F

    out_path = out_path or card_path(lake.workspace)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    seen = {t: _seen(lake, t) for t in {*DESCRIBED_TABLES, *FINAL_CANDIDATES, "silver/dup_clusters",
                                         "silver/pii_findings"}}
    final = next((t for t in FINAL_CANDIDATES if seen[t] is not None), None)
    runs = _latest_stage_runs(lake)
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md: list[str] = ["# codemill dataset card", "",
                     f"Generated {generated} from the lake `{lake.root}` by `codemill report`. "
                     "Recipe: The Stack / StarCoder data pipeline (docs/recipe.md §1–§7 gives the source of every "
                     "default).", ""]

    # Versions first: what exactly this card describes.
    md += ["## Delta versions described", ""]
    md += _md_table(["table", "Delta version (published)", "rows"],
                    [[t, seen[t], lake.read(t, seen[t]).count()] for t in DESCRIBED_TABLES if seen[t] is not None])
    md += ["", f"Final file-level table: `{final or 'none yet'}`. Latest run per stage: "
           + (", ".join(f"{s} `{r['run_id']}`" for s, r in sorted(runs.items(), key=lambda kv: _stage_order(kv[0])))
              or "no run recorded") + ".", ""]

    # Languages and sizes.
    md += ["## Languages and sizes", ""]
    if final and final != "bronze/files":
        rows = (lake.read(final, seen[final]).groupBy(F.coalesce("language", F.lit("unknown")).alias("language"))
                .agg(F.count("*").alias("files"), F.sum("size_bytes").alias("bytes"))
                .orderBy(F.desc("bytes")).collect())
        tok = runs.get("tokenize")
        tokens = {k.split(".", 1)[1]: v for k, v in ((tok["metrics"] or {}).items() if tok else [])
                  if k.startswith("tokens.")}
        total_f = sum(int(r["files"]) for r in rows)
        total_b = sum(int(r["bytes"] or 0) for r in rows)
        md += _md_table(["language", "files", "MiB", "share of bytes", "tokens"],
                        [[r["language"], int(r["files"]), f"{(r['bytes'] or 0) / 2**20:.3f}",
                          f"{100 * (r['bytes'] or 0) / max(1, total_b):.1f}%", tokens.get(r["language"], "")]
                         for r in rows])
        md += ["", f"Total: {total_f:,} files, {total_b / 2**20:.3f} MiB in `{final}`."]
    elif final:
        n, b = lake.read(final, seen[final]).agg(F.count("*"), F.sum("size_bytes")).collect()[0]
        md += [f"Only `bronze/files` exists ({n:,} files, {(b or 0) / 2**20:.3f} MiB); languages are assigned by "
               "the select stage, which has not run."]
    else:
        md += ["No data ingested yet."]
    md.append("")

    # Licenses.
    md += ["## Licenses", ""]
    if final:
        has_type = "license_type" in lake.read(final, seen[final]).columns
        group = ["license_type", "license"] if has_type else ["license"]
        rows = (lake.read(final, seen[final]).groupBy(*[F.coalesce(c, F.lit("(none)")).alias(c) for c in group])
                .count().orderBy(F.desc("count")).collect())
        md += _md_table(group + ["files"], [[r[c] for c in group] + [int(r["count"])] for r in rows[:30]])
        if len(rows) > 30:
            md.append(f"\n… and {len(rows) - 30} more licenses.")
        md += ["", f"License policy (config `select.license_policy`): keep {', '.join(config.select.license_policy)}."]
    md.append("")

    # Filters.
    md += ["## Filters and thresholds", "",
           "Per-extension heuristics (config `filter`); a kept file satisfies every threshold of its extension, "
           "checked by the `filter_threshold.*` gates. Defaults:", ""]
    rules = config.filter
    defaults = to_mapping(rules.defaults)
    md += _md_table(["rule", "what it drops", "default"],
                    [[r.name, r.doc, ("on" if defaults[r.name] else "off") if r.setting is bool else _fmt(defaults[r.name])]
                     for r in RULES])
    md += ["", "Rule parameters:", ""]
    md += _md_table(["rule", "parameters"], [[name, ", ".join(f"{a}={b}" for a, b in to_mapping(getattr(rules, name)).items())]
                                             for name in ("auto_generated", "xml_header", "json_yaml_size",
                                                          "html_visible_text", "encoded_data")])
    overrides = {ext: {k: v for k, v in to_mapping(ext_rules).items() if v != defaults[k]}
                 for ext, ext_rules in sorted(rules.per_extension.items())}
    if any(overrides.values()):
        md += ["", "Per-extension overrides:", ""]
        md += _md_table(["extension", "overrides"], [[f".{e}", ", ".join(f"{a}={_fmt(b)}" for a, b in v.items())]
                                                     for e, v in overrides.items() if v])
    md += ["", f"Excluded extensions (select stage, {len(config.select.excluded_extensions)}): "
           + ", ".join(f".{e}" for e in config.select.excluded_extensions) + "."]
    md.append("")

    # What each stage removed.
    md += ["## Files removed, by stage and reason", ""]
    removed = []
    for stage, r in runs.items():
        for reason, n in sorted((r["rejected_by_reason"] or {}).items()):
            removed.append([stage, reason, int(n), r["run_id"]])
    removed.sort(key=lambda x: (_stage_order(x[0]), x[1]))
    md += _md_table(["stage", "reason", "files", "run"], removed) if removed else ["Nothing removed yet."]
    md.append("")

    # Dedup.
    md += ["## Deduplication", ""]
    md += ["Exact dedup on `content_sha256`, then near dedup with MinHash LSH over word n-grams; one "
           "survivor per cluster (docs/dedup.md; config `dedup`):", ""]
    md += _md_table(["parameter", "value"], [[k, _fmt(v)] for k, v in to_mapping(config.dedup).items()])
    if seen["silver/dup_clusters"] is not None:
        clusters = lake.read("silver/dup_clusters", seen["silver/dup_clusters"])
        n_clusters = clusters.select("cluster_id").distinct().count()
        rows = clusters.groupBy("method").agg(F.count("*").alias("files"),
                                              F.sum(F.when(~F.col("kept"), 1).otherwise(0)).alias("removed")).collect()
        md += ["", f"{n_clusters:,} duplicate clusters, one file kept from each; files in them by how they "
               "were matched:", ""]
        md += _md_table(["method", "files in clusters", "removed"],
                        [[r["method"], int(r["files"]), int(r["removed"])] for r in sorted(rows, key=lambda r: r["method"])])
    md.append("")

    # PII.
    md += ["## PII handling", ""]
    md += ["Detected spans are replaced by `<EMAIL>`, `<KEY>`, `<PASSWORD>`, `<NAME>`; public IP addresses by "
           "one of five synthetic private addresses (docs/recipe.md §5.1). Findings are stored without their "
           "values. Config `pii`:", ""]
    md += _md_table(["parameter", "value"], [[k, _fmt(v) if not isinstance(v, list) else ", ".join(map(str, v))]
                                             for k, v in to_mapping(config.pii).items()])
    if seen["silver/pii_findings"] is not None:
        rows = (lake.read("silver/pii_findings", seen["silver/pii_findings"]).groupBy("type")
                .agg(F.count("*").alias("n"), F.countDistinct("file_id").alias("files")).orderBy("type").collect())
        md += ["", "Findings redacted:", ""] + _md_table(["type", "findings", "files"],
                                                        [[r["type"], int(r["n"]), int(r["files"])] for r in rows])
    md.append("")

    # Decontamination.
    md += ["## Benchmark decontamination", ""]
    dec = runs.get("decontaminate")
    if dec is not None:
        md += ["Files containing a benchmark prompt or solution (exact, case-insensitive substring; docs/recipe.md §6) "
               "were removed:", ""]
        md += _md_table(["benchmark", "status"], [[k.split(".", 1)[1], v] for k, v in sorted((dec["metrics"] or {}).items())
                                                  if k.startswith("benchmark.")])
    else:
        md.append("The decontaminate stage has not run on this lake.")
    md.append("")

    # Opt-outs.
    md += ["## Opt-outs", ""]
    if lake.exists("governance/optout"):
        rows = lake.read("governance/optout").groupBy("kind").agg(
            F.count("*").alias("requests"), F.count("applied_at").alias("applied"),
            F.max("applied_at").alias("last_applied")).collect()
        md += _md_table(["kind", "requests", "applied", "last applied"],
                        [[r["kind"], int(r["requests"]), int(r["applied"]), r["last_applied"]] for r in rows])
        sel = runs.get("select")
        opted = int((sel["rejected_by_reason"] or {}).get("opted_out", 0)) if sel else 0
        md += ["", f"Files removed as `opted_out` in the latest select run: {opted:,}. "
               "Requesters are not named in this card."]
        from jobs.stages.governance import optout_log
        log = optout_log(lake.root)
        if log:
            batches: dict = {}
            for r in log:
                b = batches.setdefault(r["applied_at"], {"requests": r["requests"], "files": 0, "docs": 0,
                                                         "sequences": 0})
                key = {"bronze/files": "files", "gold/training_docs": "docs", "gold/tokens": "sequences"}.get(r["table_name"])
                if key:
                    b[key] += int(r["rows_deleted"])
            md += ["", "Removals applied (`codemill optout apply`; every older version of each table vacuumed; "
                   "affected checkpoints: `codemill lineage --affected-by-optout`):", ""]
            md += _md_table(["applied", "requests", "files removed (bronze)", "training documents", "token sequences"],
                            [[f"{at:%Y-%m-%d %H:%M} UTC", b["requests"], b["files"], b["docs"], b["sequences"]]
                             for at, b in sorted(batches.items())])
    else:
        md.append("No opt-out requests recorded (`governance/optout` does not exist).")
    md.append("")

    # Quality gates.
    md += ["## Data-quality gates", ""]
    if lake.exists("ops/dq_results"):
        rows = latest_results(lake).groupBy("stage", "run_id").agg(
            F.count("*").alias("n"), F.sum(F.when(~F.col("success"), 1).otherwise(0)).alias("failed"),
            F.max("checked_at").alias("at")).collect()
        latest = {}
        for r in rows:
            if r["stage"] not in latest or r["at"] > latest[r["stage"]]["at"]:
                latest[r["stage"]] = r
        md += _md_table(["stage", "run", "expectations", "failed"],
                        [[s, r["run_id"], int(r["n"]), int(r["failed"])] for s, r in
                         sorted(latest.items(), key=lambda kv: _stage_order(kv[0]))])
        md += ["", "Details: `reports/data_docs/index.html` (Great Expectations Data Docs)."]
    else:
        md.append("No gate has run yet (`codemill check STAGE`).")
    md.append("")
    out_path.write_text("\n".join(md), encoding="utf-8")
    return out_path
