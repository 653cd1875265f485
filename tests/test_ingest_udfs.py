"""Unit tests of udfs/ingest.py (no Spark)."""
import json

import pytest

from udfs import ingest as rules

MAX = 1000


def test_file_id_is_stable_and_depends_only_on_location():
    a = rules.file_id("alice/tools", "src/a.py")
    assert a == rules.file_id("alice/tools", "src/a.py")
    assert a != rules.file_id("alice/tools", "src/b.py")
    assert a != rules.file_id("alice/tool", "ssrc/a.py")  # the separator keeps parts apart
    assert len(a) == 32


@pytest.mark.parametrize("raw, reason", [
    (b"print('hi')\n", None),
    ("é = 1\n".encode(), None),
    (b"x" * (MAX + 1), rules.OVERSIZED),
    (b"x" * MAX, None),
    (b"\x89PNG\r\n\x1a\n\x00\x00", rules.BINARY),
    ("# caf\u00e9\n".encode("latin-1"), rules.INVALID_UTF8),
])
def test_decode_content(raw, reason):
    decoded = rules.decode_content(raw, MAX)
    assert decoded.reason == reason
    if reason is None:
        assert decoded.text == raw.decode()
    else:
        assert decoded.text is None and decoded.detail


def test_decode_detail_never_holds_content():
    secret = b"AKIAABCDEFGHIJKLMNOP\x00"
    assert "AKIA" not in rules.decode_content(secret, MAX).detail


def test_parse_json_record_stack_columns():
    line = json.dumps({"content": "x = 1\n", "max_stars_repo_path": "a.py", "max_stars_repo_name": "o/r",
                       "max_stars_count": 7, "max_stars_repo_licenses": ["MIT", "Apache-2.0"]}).encode()
    rec = rules.parse_json_record(line, MAX)
    assert (rec.repo_name, rec.path, rec.content, rec.stars, rec.license) == ("o/r", "a.py", "x = 1\n", 7, "MIT,Apache-2.0")
    assert rec.reason is None


@pytest.mark.parametrize("line, reason", [
    (b'{"content": "x", "path": "a.py"', rules.MALFORMED_JSON),
    (b'[1, 2]', rules.MALFORMED_JSON),
    (b'{"content": "x", "path": "a.py"}', rules.MISSING_FIELD),
    (b'{"content": null, "path": "a.py", "repo_name": "o/r"}', rules.MISSING_FIELD),
    (b'{"content": "a\\u0000b", "path": "a.py", "repo_name": "o/r"}', rules.BINARY),
    (b'{"content": "\\ud800", "path": "a.py", "repo_name": "o/r"}', rules.INVALID_UTF8),
    (b'{"content": "caf\xe9", "path": "a.py", "repo_name": "o/r"}', rules.INVALID_UTF8),
    (b'{"content": "' + b"y" * (MAX + 1) + b'", "path": "a.py", "repo_name": "o/r"}', rules.OVERSIZED),
])
def test_parse_json_record_rejects(line, reason):
    assert rules.parse_json_record(line, MAX).reason == reason


def test_split_repo_path():
    assert rules.split_repo_path("alice__tools/src/a.py") == ("alice/tools", "src/a.py")
    assert rules.split_repo_path("loose_file.py") is None
    assert rules.is_skipped_repo_path(".git/config")
    assert rules.is_skipped_repo_path(rules.REPO_METADATA_FILE)
    assert not rules.is_skipped_repo_path("src/git.py")


@pytest.mark.parametrize("text, spdx", [
    ("MIT License\n\nCopyright (c) 2024 X\n\nPermission is hereby granted, free of charge, to any person", "MIT"),
    ("Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/", "Apache-2.0"),
    ("GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007", "GPL-3.0"),
    ("Redistribution and use in source and binary forms, with or without modification... "
     "Neither the name of the copyright holder", "BSD-3-Clause"),
    ("Redistribution and use in source and binary forms, with or without modification", "BSD-2-Clause"),
    ("All rights reserved. Do not copy.", None),
])
def test_detect_license(text, spdx):
    assert rules.detect_license(text) == spdx


def test_normalise_license_variants():
    assert rules.normalise_license(["MIT"]) == "MIT"
    assert rules.normalise_license('["MIT", "ISC"]') == "MIT,ISC"
    assert rules.normalise_license([]) is None
    assert rules.normalise_license(None) is None
