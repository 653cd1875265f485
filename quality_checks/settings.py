"""What the checks read from configs/pipeline.yaml, read defensively: other stages own
their sections (select, filter, dedup, pii, decontaminate, tokenize) and a section may
be absent while a stage is not part of this checkout yet. None means "not configured":
the check that needs it is then recorded as skipped, never as passed.
"""
from __future__ import annotations

from typing import Any

# The stage -> output tables mapping the gates check (DESIGN.md "The lake").
STAGE_TABLES: dict[str, tuple[str, ...]] = {
    "ingest": ("bronze/files", "bronze/quarantine"),
    "select": ("silver/selected",),
    "filter": ("silver/filtered",),
    "dedup": ("silver/deduped", "silver/dup_clusters"),
    "pii": ("silver/redacted", "silver/pii_findings"),
    "decontaminate": ("gold/files",),
    "format": ("gold/training_docs",),
    "tokenize": ("gold/tokens",),
}
STAGE_ORDER = list(STAGE_TABLES)

# The file-level table each stage reads (the first that exists), for row lineage checks.
STAGE_INPUTS: dict[str, tuple[str, ...]] = {
    "select": ("bronze/files",),
    "filter": ("silver/selected", "bronze/files"),
    "dedup": ("silver/filtered", "silver/selected", "bronze/files"),
    "pii": ("silver/deduped", "silver/filtered", "silver/selected", "bronze/files"),
    "decontaminate": ("silver/redacted", "silver/deduped", "silver/filtered", "silver/selected", "bronze/files"),
    "format": ("gold/files", "silver/redacted", "silver/deduped", "silver/filtered", "silver/selected",
               "bronze/files"),
}

# Shared vocabulary (the team brief).
QUARANTINE_REASONS = ("invalid_utf8", "binary", "oversized", "malformed_json", "missing_field", "unreadable",
                      "duplicate_path")
LICENSE_TYPES = ("permissive", "non_permissive", "no_license")
PII_TYPES = ("EMAIL", "IP_ADDRESS", "KEY", "PASSWORD", "NAME", "USERNAME")
DEDUP_METHODS = ("exact", "near")

# Filter metric columns and which side of the threshold a kept file must be on.
#   rule name (= rejection reason) -> (metric column, "max" | "min")
METRIC_RULES: dict[str, tuple[str, str]] = {
    "max_line_length": ("max_line_length", "max"),
    "avg_line_length": ("avg_line_length", "max"),
    "alphanum_fraction": ("alphanum_fraction", "min"),
    "alpha_fraction": ("alpha_fraction", "min"),
    "max_lines": ("line_count", "max"),
}
# Names a config may use for a rule's threshold (first found wins).
_THRESHOLD_KEYS: dict[str, tuple[str, ...]] = {
    "max_line_length": ("max_line_length", "max_line", "long_line", "max_line_chars"),
    "avg_line_length": ("avg_line_length", "max_avg_line_length", "mean_line_length", "avg_line"),
    "alphanum_fraction": ("alphanum_fraction", "min_alphanum_fraction", "alphanum_threshold", "alphanum"),
    "alpha_fraction": ("alpha_fraction", "min_alpha_fraction", "alphabetic_threshold", "alpha"),
    "max_lines": ("max_lines", "max_line_count", "line_count"),
}
_DISABLED = (None, False, "off", "none", "null", "disabled")


def _section(config: dict, name: str) -> dict:
    value = (config or {}).get(name)
    return value if isinstance(value, dict) else {}


def selected_languages(config: dict) -> list[str] | None:
    """config select.languages: a list of names, or a mapping name -> anything (its keys)."""
    langs = _section(config, "select").get("languages")
    if isinstance(langs, dict):
        langs = list(langs)
    if isinstance(langs, (list, tuple)) and langs:
        return sorted({str(x) for x in langs if x is not None})
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value in _DISABLED:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rule_value(block: dict, rule: str) -> tuple[bool, float | None]:
    """(present, threshold) of `rule` in a config block; present+None means disabled."""
    for key in _THRESHOLD_KEYS[rule]:
        if key in block:
            value = block[key]
            if isinstance(value, dict):  # {threshold: x} / {max: x} / {min: x} / {enabled: false}
                if value.get("enabled") is False:
                    return True, None
                for inner in ("threshold", "value", "max", "min", "limit"):
                    if inner in value:
                        return True, _as_number(value[inner])
                continue
            return True, _as_number(value)
    return False, None


def _norm_ext(ext: str | None) -> str:
    return (ext or "").lower().lstrip(".")


def filter_blocks(config: dict) -> tuple[dict, dict[str, dict]]:
    """(defaults, per-extension overrides keyed by extension without the dot)."""
    section = _section(config, "filter")
    defaults = {}
    for key in ("defaults", "default", "thresholds"):
        if isinstance(section.get(key), dict):
            defaults = section[key]
            break
    if not defaults:  # thresholds written flat in the section
        defaults = {k: v for k, v in section.items() if not isinstance(v, dict) or k in sum(_THRESHOLD_KEYS.values(), ())}
    overrides: dict[str, dict] = {}
    for key in ("extensions", "overrides", "per_extension", "extension_overrides"):
        block = section.get(key)
        if isinstance(block, dict):
            for ext, values in block.items():
                if isinstance(values, dict):
                    for one in str(ext).split(","):
                        overrides[_norm_ext(one.strip())] = values
    return defaults, overrides


def thresholds_for(config: dict, extension: str | None) -> dict[str, float | None]:
    """The threshold of every metric rule for files of `extension` (None: rule not applied)."""
    defaults, overrides = filter_blocks(config)
    override = overrides.get(_norm_ext(extension), {})
    out: dict[str, float | None] = {}
    for rule in METRIC_RULES:
        present, value = _rule_value(override, rule)
        if not present:
            present, value = _rule_value(defaults, rule)
        out[rule] = value if present else None
    # FACTS §3.2: mean line length is enforced only where a max-line threshold exists.
    if out["max_line_length"] is None and not _rule_value(override, "avg_line_length")[0]:
        out["avg_line_length"] = None
    return out


def filter_configured(config: dict) -> bool:
    defaults, overrides = filter_blocks(config)
    return any(_rule_value(defaults, r)[0] for r in METRIC_RULES) or bool(overrides)


def tokens_seq_length(config: dict) -> int | None:
    for section in ("tokenize", "format", "tokenizer", "packing"):
        block = _section(config, section)
        for key in ("seq_length", "sequence_length", "seq_len", "context_length", "max_length"):
            value = _as_number(block.get(key))
            if value:
                return int(value)
    return None


def quality(config: dict) -> dict:
    """The `quality:` section (this package's own), with defaults."""
    q = _section(config, "quality")
    return {
        "sample_ids": int(q.get("sample_ids", 5)),
        "gate_after_each_stage": bool(q.get("gate_after_each_stage", True)),
        "column_types": bool(q.get("column_types", True)),
        "cache_tables": bool(q.get("cache_tables", True)),
    }
