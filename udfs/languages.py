"""Extension / filename → language (pure Python, no Spark).

The mapping is configs/languages.json, generated from GitHub Linguist's data by
scripts/generate_language_map.py. `classify_path` answers a language and the matched
extension, or the select-stage reason a file cannot be kept.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

EXCLUDED_EXTENSION = "excluded_extension"
UNKNOWN_LANGUAGE = "unknown_language"
LANGUAGE_NOT_SELECTED = "language_not_selected"

DEFAULT_MAP = Path(__file__).resolve().parents[1] / "configs" / "languages.json"


@dataclass(frozen=True)
class LanguageMap:
    extensions: dict[str, str]          # ".py" -> "Python" (case as Linguist writes it)
    extensions_lower: dict[str, str]    # lower-cased keys, for "FOO.PY"
    filenames: dict[str, str]           # "Dockerfile" -> "Dockerfile"
    filenames_lower: dict[str, str]
    version: str

    @classmethod
    def from_dict(cls, data: dict) -> "LanguageMap":
        exts = dict(data["extensions"])
        # Lower-case keys win in the case-insensitive index (".c" is C, although ".C" is C++).
        lower = {ext: lang for ext, lang in exts.items() if ext == ext.lower()}
        for ext, lang in exts.items():
            lower.setdefault(ext.lower(), lang)
        names = dict(data.get("filenames", {}))
        return cls(exts, lower, names, {k.lower(): v for k, v in names.items()}, str(data.get("_version", "?")))


@lru_cache(maxsize=4)
def load_map(path: str | None = None) -> LanguageMap:
    from udfs.resources import read_text
    return LanguageMap.from_dict(json.loads(read_text(path or DEFAULT_MAP)))


def candidate_extensions(filename: str) -> list[str]:
    """'a.cmake.in' → ['.cmake.in', '.in'] (longest first); a leading dot is part of the name."""
    stem = filename[1:] if filename.startswith(".") else filename
    offset = len(filename) - len(stem)
    out = []
    for i, ch in enumerate(stem):
        if ch == "." and i > 0 and i < len(stem) - 1:
            out.append(filename[offset + i:])
    return out


@dataclass(frozen=True)
class Classified:
    language: str | None
    extension: str        # without the dot ("py"), "" when the name has none
    reason: str | None = None
    detail: str | None = None


def _norm_ext(ext: str) -> str:
    return ext[1:] if ext.startswith(".") else ext


def classify_path(path: str, lmap: LanguageMap, excluded: frozenset[str] | set[str] = frozenset(),
                  selected: frozenset[str] | set[str] | None = None) -> Classified:
    """Language of `path` by filename rule, then longest matching extension.

    `excluded`: extensions without dot, lower-case (docs/recipe.md §1.4); `selected`: the language
    allow-list (None = every language).
    """
    name = PurePosixPath(path).name
    cands = candidate_extensions(name)
    shown = _norm_ext(cands[-1]) if cands else ""
    for ext in cands:
        if _norm_ext(ext).lower() in excluded:
            return Classified(None, _norm_ext(ext), EXCLUDED_EXTENSION,
                              f"extension .{_norm_ext(ext)} is excluded (docs/recipe.md §1.4)")
    language = lmap.filenames.get(name) or lmap.filenames_lower.get(name.lower())
    extension = shown
    if language is None:
        for ext in cands:
            language = lmap.extensions.get(ext) or lmap.extensions_lower.get(ext.lower())
            if language is not None:
                extension = _norm_ext(ext)
                break
    if language is None:
        what = f"extension .{shown}" if shown else f"file name {name!r}"
        return Classified(None, extension, UNKNOWN_LANGUAGE, f"{what} not in the language map")
    if selected is not None and language not in selected:
        return Classified(language, extension, LANGUAGE_NOT_SELECTED, f"language {language} not in select.languages")
    return Classified(language, extension)


def classify_paths(paths, lmap: LanguageMap, excluded=frozenset(), selected=None) -> list[Classified]:
    """Batch form used by the select stage's Arrow UDF (cached per distinct file name)."""
    cache: dict[str, Classified] = {}
    out = []
    for p in paths:
        name = PurePosixPath(p).name if p is not None else ""
        hit = cache.get(name)
        if hit is None:
            hit = cache[name] = classify_path(name, lmap, excluded, selected)
        out.append(hit)
    return out
