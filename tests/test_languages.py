"""Extension → language map, license classification, and license-file detection accuracy. No Spark."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from jobs.core.config import REPO_ROOT, load_config
from udfs import licenses
from udfs.ingest import detect_license, is_license_file
from udfs.languages import (EXCLUDED_EXTENSION, LANGUAGE_NOT_SELECTED, UNKNOWN_LANGUAGE, candidate_extensions,
                            classify_path, load_map)

CFG = load_config().select
LMAP = load_map(str(CFG.language_map_path()))
EXCLUDED = frozenset(e.lower() for e in CFG.excluded_extensions)
LANGUAGES = frozenset(CFG.languages)


def classify(path):
    return classify_path(path, LMAP, EXCLUDED, LANGUAGES)


def test_map_header_names_source_and_version():
    data = json.loads((REPO_ROOT / "configs" / "languages.json").read_text())
    assert "linguist-languages@" in data["_source"] and data["_version"]
    assert data["_generated_by"] == "scripts/generate_language_map.py"


@pytest.mark.parametrize("path,language,ext", [
    ("src/app.py", "Python", "py"), ("a/B.JAVA", "Java", "JAVA"), ("x.h", "C", "h"), ("x.hh", "C++", "hh"),
    ("x.C", "C++", "C"), ("x.c", "C", "c"), ("x.ts", "TypeScript", "ts"), ("x.tsx", "TypeScript", "tsx"),
    ("x.rs", "Rust", "rs"), ("q.sql", "SQL", "sql"), ("x.pl", "Perl", "pl"), ("x.cs", "C#", "cs"),
    ("x.f", "Fortran", "f"), ("x.fs", "F#", "fs"), ("x.r", "R", "r"), ("x.nb", "Wolfram Language", "nb"),
    ("Dockerfile", "Dockerfile", ""), ("sub/Makefile", "Makefile", ""), ("CMakeLists.txt", "CMake", "txt"),
    ("cfg.cmake.in", "CMake", "cmake.in"), ("d.json", "JSON", "json"), ("c.yml", "YAML", "yml"),
    ("README.md", "Markdown", "md"), ("nb.ipynb", "Jupyter Notebook", "ipynb"), ("x.sol", "Solidity", "sol"),
    ("x.mpl", "Maple", "mpl"),
])
def test_languages_kept(path, language, ext):
    c = classify(path)
    assert (c.language, c.extension, c.reason) == (language, ext, None)


@pytest.mark.parametrize("ext", [".m", ".v", ".inc", ".pp", ".sc", ".d", ".cls", ".asc", ".sublime-settings"])
def test_facts_ambiguous_extensions_are_unknown(ext):
    assert classify("file" + ext).reason == UNKNOWN_LANGUAGE


def test_all_36_excluded_extensions():
    assert len(EXCLUDED) == 36
    for ext in EXCLUDED:
        c = classify(f"dir/file.{ext}")
        assert c.reason == EXCLUDED_EXTENSION, ext


def test_unknown_and_not_selected():
    assert classify("notes.xyz123").reason == UNKNOWN_LANGUAGE
    assert classify("LICENSE").reason == UNKNOWN_LANGUAGE      # no Text filename rules (see generator)
    assert classify("noext").reason == UNKNOWN_LANGUAGE
    c = classify("shell.nix")
    assert (c.language, c.reason) == ("Nix", LANGUAGE_NOT_SELECTED)
    everything = classify_path("shell.nix", LMAP, EXCLUDED, None)
    assert everything.reason is None


def test_candidate_extensions():
    assert candidate_extensions("a.cmake.in") == [".cmake.in", ".in"]
    assert candidate_extensions(".bashrc") == []
    assert candidate_extensions("a.") == []


def test_allow_list_languages_exist_in_map():
    data = json.loads((REPO_ROOT / "configs" / "languages.json").read_text())
    missing = [lang for lang in LANGUAGES if lang not in data["types"]]
    assert not missing


PERM = frozenset(x.lower() for x in CFG.permissive_licenses)


@pytest.mark.parametrize("value,expected", [
    ("MIT", "permissive"), ("mit", "permissive"), ("MIT, Apache-2.0", "permissive"), ("MIT,GPL-3.0", "non_permissive"),
    ("GPL-3.0", "non_permissive"), ("MPL-2.0", "non_permissive"), ("LGPL-2.1", "non_permissive"),
    ("EPL-1.0", "non_permissive"), (None, "no_license"), ("", "no_license"), ("NOASSERTION", "no_license"),
    ('["BSD-3-Clause", "ISC"]', "permissive"), ("Zlib", "permissive"), ("BSL-1.0", "permissive"),
])
def test_license_type(value, expected):
    assert licenses.license_type(value, PERM) == expected


def test_license_policy_reasons():
    keep = {"permissive"}
    assert licenses.policy_reason("permissive", keep) is None
    assert licenses.policy_reason("no_license", keep) == "no_license"
    assert licenses.policy_reason("non_permissive", keep) == "license_not_permissive"
    assert licenses.policy_reason("no_license", {"permissive", "no_license"}) is None


SAMPLE = REPO_ROOT / "tests" / "data" / "sample_corpus"
MANIFEST = REPO_ROOT / "tests" / "data" / "sample_manifest.yaml"


def license_file_detections():
    """{repo: detected SPDX id or None} using udfs.ingest.detect_license on each repo's license files."""
    out = {}
    for repo_dir in sorted(p for p in SAMPLE.iterdir() if p.is_dir()):
        repo = repo_dir.name.replace("__", "/", 1)
        found = [detect_license(f.read_text(errors="replace")) for f in sorted(repo_dir.iterdir())
                 if f.is_file() and is_license_file(f.name)]
        out[repo] = next((x for x in found if x), None)
    return out


@pytest.mark.skipif(not MANIFEST.exists(), reason="sample manifest not written yet")
def test_license_file_detection_accuracy():
    """Accuracy of the ingest stage's license-file detector against the manifest's licenses map,
    over repositories whose license comes from a file (not from .codemill-repo.json)."""
    manifest = yaml.safe_load(MANIFEST.read_text())["licenses"]
    detected = license_file_detections()
    judged = {r: exp for r, exp in manifest.items()
              if not (SAMPLE / r.replace("/", "__") / ".codemill-repo.json").exists()
              or "license" not in json.loads((SAMPLE / r.replace("/", "__") / ".codemill-repo.json").read_text())}
    correct = [r for r, exp in judged.items() if detected.get(r) == exp]
    wrong = {r: (exp, detected.get(r)) for r, exp in judged.items() if detected.get(r) != exp}
    accuracy = len(correct) / len(judged)
    print(f"license-file detection accuracy: {len(correct)}/{len(judged)} = {accuracy:.3f}; wrong: {wrong}")
    assert not wrong and accuracy == 1.0
