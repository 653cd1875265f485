"""Pure functions for the ingest stage: identity, decoding, record parsing, license files.

Every function answers "keep" (a value) or "quarantine" (a reason and a detail); none
imports Spark. The detail never holds file content, only sizes and positions.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

# Quarantine reasons (a closed set: reports and checks group by them).
INVALID_UTF8 = "invalid_utf8"
BINARY = "binary"
OVERSIZED = "oversized"
MALFORMED_JSON = "malformed_json"
MISSING_FIELD = "missing_field"
UNREADABLE = "unreadable"
DUPLICATE_PATH = "duplicate_path"  # a second input record for the same repo_name + path
QUARANTINE_REASONS = (INVALID_UTF8, BINARY, OVERSIZED, MALFORMED_JSON, MISSING_FIELD, UNREADABLE, DUPLICATE_PATH)

# The Stack's column names, with the plain names codemill also accepts.
FIELD_ALIASES = {
    "content": ("content", "text"),
    "path": ("path", "max_stars_repo_path", "filepath"),
    "repo_name": ("repo_name", "max_stars_repo_name", "repository_name"),
    "stars": ("stars", "max_stars_count"),
    "license": ("license", "licenses", "max_stars_repo_licenses"),
}


def file_id(repo_name: str, path: str) -> str:
    """Stable id of a file: derived from where it lives, never from row order."""
    return hashlib.sha256(f"{repo_name}\x00{path}".encode()).hexdigest()[:32]


def quarantine_id(source: str, locator: str) -> str:
    return hashlib.sha256(f"{source}\x00{locator}".encode()).hexdigest()[:32]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Decoded:
    text: str | None
    reason: str | None = None
    detail: str | None = None


def decode_content(raw: bytes, max_bytes: int) -> Decoded:
    """Text of a file, or why it cannot be ingested (size first: it is the cheapest test)."""
    if len(raw) > max_bytes:
        return Decoded(None, OVERSIZED, f"{len(raw)} bytes > limit {max_bytes}")
    nul = raw.find(b"\x00")
    if nul >= 0:
        return Decoded(None, BINARY, f"NUL byte at offset {nul}")
    try:
        return Decoded(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        return Decoded(None, INVALID_UTF8, f"invalid UTF-8 at byte {err.start}")


def check_text(text: str, max_bytes: int) -> tuple[str | None, str | None]:
    """(reason, detail) for text that already decoded (JSONL/Parquet fields), or (None, None)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return OVERSIZED, f"{size} bytes > limit {max_bytes}"
    nul = text.find("\x00")
    if nul >= 0:
        return BINARY, f"NUL character at offset {nul}"
    if _has_lone_surrogate(text):
        return INVALID_UTF8, "lone surrogate escape in JSON string"
    return None, None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def pick_field(record: dict, field: str):
    """The value of `field` under any of its accepted names (first non-null wins)."""
    for name in FIELD_ALIASES[field]:
        value = record.get(name)
        if value is not None:
            return value
    return None


def normalise_license(value) -> str | None:
    """A license column may hold one SPDX id, a list of them (The Stack), or a JSON list."""
    if value is None:
        return None
    if isinstance(value, str) and value.startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            return value.strip() or None
    if isinstance(value, (list, tuple)):
        ids = [str(v).strip() for v in value if v]
        return ",".join(ids) if ids else None
    return str(value).strip() or None


def normalise_stars(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ParsedRecord:
    repo_name: str | None = None
    path: str | None = None
    content: str | None = None
    license: str | None = None
    stars: int | None = None
    reason: str | None = None
    detail: str | None = None


def parse_json_record(line: bytes, max_bytes: int) -> ParsedRecord:
    """One JSONL line → a record, or the reason it goes to quarantine."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return ParsedRecord(reason=INVALID_UTF8, detail=f"invalid UTF-8 at byte {err.start} of the line")
    try:
        record = json.loads(text)
    except ValueError as err:
        return ParsedRecord(reason=MALFORMED_JSON, detail=f"{type(err).__name__} at column {getattr(err, 'colno', '?')}")
    if not isinstance(record, dict):
        return ParsedRecord(reason=MALFORMED_JSON, detail=f"line is a JSON {type(record).__name__}, not an object")
    return record_from_dict(record, max_bytes)


def parse_json_array(raw: bytes, max_bytes: int) -> list[tuple[str, ParsedRecord, int]] | None:
    """A `.json` file that holds ONE JSON array of records (the other common way to hand over
    JSON, besides one object per line): [(locator, record, size in bytes)], or None when the
    file does not start with '[' (read it as JSON Lines). An array that does not parse is one
    malformed record: its items cannot be told apart."""
    head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"["):
        return None
    try:
        items = json.loads(head.decode("utf-8"))
    except UnicodeDecodeError as err:
        return [("file", ParsedRecord(reason=INVALID_UTF8, detail=f"invalid UTF-8 at byte {err.start}"), len(raw))]
    except ValueError as err:
        return [("file", ParsedRecord(reason=MALFORMED_JSON, detail=f"JSON array: {type(err).__name__} at line "
                                                                      f"{getattr(err, 'lineno', '?')}"), len(raw))]
    if not isinstance(items, list):
        return [("file", ParsedRecord(reason=MALFORMED_JSON, detail="not a JSON array"), len(raw))]
    out = []
    for i, item in enumerate(items):
        size = len(json.dumps(item, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if not isinstance(item, dict):
            rec = ParsedRecord(reason=MALFORMED_JSON, detail=f"item is a JSON {type(item).__name__}, not an object")
        else:
            rec = record_from_dict(item, max_bytes)
        out.append((f"item {i}", rec, size))
    return out


def record_from_dict(record: dict, max_bytes: int) -> ParsedRecord:
    repo, path, content = (pick_field(record, f) for f in ("repo_name", "path", "content"))
    missing = [name for name, value in (("repo_name", repo), ("path", path), ("content", content))
               if not isinstance(value, str) or (name != "content" and not value)]
    if missing:
        return ParsedRecord(repo_name=repo if isinstance(repo, str) else None,
                            path=path if isinstance(path, str) else None,
                            reason=MISSING_FIELD, detail="missing or not a string: " + ", ".join(missing))
    reason, detail = check_text(content, max_bytes)
    if reason:
        return ParsedRecord(repo_name=repo, path=path, reason=reason, detail=detail)
    return ParsedRecord(repo_name=repo, path=path, content=content,
                        license=normalise_license(pick_field(record, "license")),
                        stars=normalise_stars(pick_field(record, "stars")))


# ---- folder of repositories ---------------------------------------------------------

REPO_METADATA_FILE = ".codemill-repo.json"  # optional per repository: repo_name, stars, license
_LICENSE_FILE = re.compile(r"^(licen[cs]e|copying|unlicense)([.-].*)?$", re.IGNORECASE)


def split_repo_path(relative: str) -> tuple[str, str] | None:
    """'owner__repo/src/a.py' → ('owner/repo', 'src/a.py'); None for files outside a repo folder.

    A folder name holds the repository name with '__' standing for '/', since '/' cannot be
    part of a folder name; a metadata file can give the name explicitly instead.
    """
    parts = PurePosixPath(relative).parts
    if len(parts) < 2:
        return None
    return parts[0].replace("__", "/", 1), "/".join(parts[1:])


def is_skipped_repo_path(path: str) -> bool:
    """VCS internals and codemill's own metadata file are not repository content."""
    parts = PurePosixPath(path).parts
    return ".git" in parts or path == REPO_METADATA_FILE


def is_license_file(path: str) -> bool:
    return "/" not in path and _LICENSE_FILE.match(path) is not None


# Distinctive phrases of common license texts. The GNU family is told apart by its title,
# which sits at the top: the GPLv3 body itself names the Affero and Lesser GPL further down.
_TITLE_CHARS = 400
_LICENSE_TITLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AGPL-3.0", ("gnu affero general public license",)),
    ("LGPL-3.0", ("gnu lesser general public license", "version 3")),
    ("LGPL-2.1", ("gnu lesser general public license", "version 2.1")),
    ("GPL-3.0", ("gnu general public license", "version 3")),
    ("GPL-2.0", ("gnu general public license", "version 2")),
    ("MPL-2.0", ("mozilla public license", "2.0")),
    ("EPL-2.0", ("eclipse public license", "2.0")),
    ("Apache-2.0", ("apache license", "version 2.0")),
    ("BSL-1.0", ("boost software license",)),
)
_LICENSE_BODIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Unlicense", ("this is free and unencumbered software released into the public domain",)),
    ("CC0-1.0", ("cc0 1.0 universal",)),
    ("ISC", ("permission to use, copy, modify, and/or distribute this software for any purpose",)),
    ("BSD-3-Clause", ("redistribution and use in source and binary forms", "neither the name")),
    ("BSD-2-Clause", ("redistribution and use in source and binary forms",)),
    ("MIT", ("permission is hereby granted, free of charge",)),
    ("Zlib", ("this software is provided 'as-is', without any express or implied",)),
)


def detect_license(text: str) -> str | None:
    """SPDX id of a license file's text by its distinctive phrases, or None when unknown."""
    lowered = " ".join(text.lower().split())
    title = lowered[:_TITLE_CHARS]
    for spdx, phrases in _LICENSE_TITLES:
        if all(p in title for p in phrases):
            return spdx
    for spdx, phrases in _LICENSE_BODIES:
        if all(p in lowered for p in phrases):
            return spdx
    return None
