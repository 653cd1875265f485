"""benchmarks/real_corpus.py without the network: tiny archives built in tmp_path stand in for
the registries' downloads (they sit where the cache keeps them, so nothing is fetched)."""
from __future__ import annotations

import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import real_corpus as rc  # noqa: E402

from udfs.ingest import split_repo_path  # noqa: E402

PKG_INFO = b"Metadata-Version: 2.4\nName: demo\nVersion: 1.0\nLicense-Expression: MIT OR Apache-2.0\n"


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", **attrs) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if data else None)


def make_sdist(path: Path) -> Path:
    """An sdist with the members a safe unpacker must refuse or resolve."""
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "demo-1.0/PKG-INFO", PKG_INFO)
        _add(tar, "demo-1.0/demo/__init__.py", b"print('first copy')\n")
        _add(tar, "demo-1.0/demo/__init__.py", b"print('last copy wins')\n")
        _add(tar, "demo-1.0/demo/latin1.txt", "caf\xe9\n".encode("latin-1"))
        _add(tar, "demo-1.0/scripts/run", b"#!/bin/sh\necho hi\n")
        _add(tar, "demo-1.0/dist/app.min.js", b"var a=1;" * 10)
        _add(tar, "demo-1.0/../escape.py", b"x = 1\n")
        _add(tar, "/etc/absolute.py", b"x = 1\n")
        _add(tar, "demo-1.0/link.py", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        _add(tar, "demo-1.0/dev", type=tarfile.CHRTYPE)
        _add(tar, "demo-1.0/hard.py", type=tarfile.LNKTYPE, linkname="demo-1.0/demo/__init__.py")
        _add(tar, "demo-1.0/.codemill-repo.json", b'{"repo_name": "hijack"}')
        _add(tar, "demo-1.0/conflict", b"a file where a folder is\n")
        _add(tar, "demo-1.0/conflict/inner.md", b"# inner\n")
    return path


def make_npm(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "package/package.json", json.dumps({"name": "@scope/tool", "license": "ISC"}).encode())
        _add(tar, "package/lib/index.d.ts", b"export declare const x: number;\n")
    return path


def make_jar(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        z.writestr("org/example/App.java", "class App {}\n")
    return path


POM = b"""<project xmlns="http://maven.apache.org/POM/4.0.0"><licenses><license>
<name>The Apache Software License, Version 2.0</name></license></licenses></project>"""


@pytest.fixture()
def tiny(tmp_path, monkeypatch):
    """A corpus `tiny` of three packages whose archives are already in a temporary cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CODEMILL_REAL_CORPUS", str(cache))
    archives = cache / "archives"
    for sub in ("pypi", "npm", "maven/poms"):
        (archives / sub).mkdir(parents=True)
    make_sdist(archives / "pypi" / "demo-1.0.tar.gz")
    make_npm(archives / "npm" / "@scope__tool-2.0.0.tgz")
    make_jar(archives / "maven" / "org.example__app-3.0-sources.jar")
    (archives / "maven" / "poms" / "org.example__app-3.0.pom").write_bytes(POM)

    def no_network(*args, **kwargs):
        raise AssertionError("the test must not reach a registry")
    monkeypatch.setattr(rc, "_open", no_network)
    pins = rc._pins("pypi:demo==1.0 npm:@scope/tool==2.0.0 maven:org.example:app==3.0")
    monkeypatch.setitem(rc.CORPORA, "tiny", pins)
    return cache


def test_repos_layout_names_metadata_and_safety(tiny):
    out = rc.build("tiny", progress=lambda line: None)
    assert out == tiny / "tiny"
    assert sorted(p.name for p in out.iterdir()) == ["maven__org.example__app-3.0", "npm__@scope__tool-2.0.0",
                                                     "pypi__demo-1.0"]
    demo = out / "pypi__demo-1.0"
    files = sorted(p.relative_to(demo).as_posix() for p in demo.rglob("*") if p.is_file())
    assert files == [".codemill-repo.json", "PKG-INFO", "conflict/inner.md", "demo/__init__.py",
                     "demo/latin1.txt", "dist/app.min.js", "hard.py", "scripts/run"]
    assert (demo / "demo/__init__.py").read_bytes() == b"print('last copy wins')\n"
    assert (demo / "hard.py").read_bytes() == b"print('last copy wins')\n"   # hard link: the linked bytes
    assert (demo / "demo/latin1.txt").read_bytes() == "caf\xe9\n".encode("latin-1")   # kept as it is
    assert not any(p.is_symlink() for p in out.rglob("*"))
    assert not (tiny / "escape.py").exists()
    assert json.loads((demo / ".codemill-repo.json").read_text()) == {
        "repo_name": "pypi/demo-1.0", "stars": None, "license": "MIT,Apache-2.0"}
    npm_meta = json.loads((out / "npm__@scope__tool-2.0.0" / ".codemill-repo.json").read_text())
    assert npm_meta["license"] == "ISC"
    jar = out / "maven__org.example__app-3.0"
    assert (jar / "org/example/App.java").is_file()                  # a jar has no top folder to strip
    assert json.loads((jar / ".codemill-repo.json").read_text())["license"] == "Apache-2.0"


def test_folder_names_round_trip_through_ingest():
    for pin in ("npm:@babel/core==7.25.2", "go:github.com/spf13/cobra==v1.8.1", "pypi:pip==24.0",
                "maven:com.google.guava:guava==33.3.1-jre"):
        pkg = rc.Package.parse(pin)
        assert "/" not in pkg.folder
        repo, path = split_repo_path(f"{pkg.folder}/src/a.py")
        assert (repo, path) == (pkg.repo_name, "src/a.py")
    assert rc.Package.parse("npm:@babel/core==7.25.2").folder == "npm__@babel__core-7.25.2"


def test_manifest_counts_and_no_op_rebuild(tiny):
    out = rc.build("tiny", progress=lambda line: None)
    manifest = json.loads(rc.manifest_path(out).read_text())
    demo = next(p for p in manifest["packages"] if p["pin"] == "pypi:demo==1.0")
    assert demo["files"] == 7
    assert demo["skipped"] == {"duplicate_name": 1, "name_conflict": 2, "special": 1, "symlink": 1,
                               "unsafe_name": 2}
    assert demo["families"]["shell"] == 1 and demo["families"]["python"] == 2
    assert demo["shapes"]["not_utf8"] == 1 and demo["shapes"]["minified"] == 1
    assert manifest["totals"]["files"] == 7 + 2 + 2
    assert manifest["parameters"]["packages"] == ["pypi:demo==1.0", "npm:@scope/tool==2.0.0",
                                                  "maven:org.example:app==3.0"]
    info = rc.describe(out)
    assert (info["files"], info["packages"]) == (11, 3)
    assert rc.describe(out, scan=True)["files"] == 11          # what is on disk agrees

    lines = []
    stamp = rc.manifest_path(out).stat().st_mtime_ns
    rc.build("tiny", progress=lines.append)
    assert "nothing to do" in lines[0] and rc.manifest_path(out).stat().st_mtime_ns == stamp


def test_killed_build_is_detected_and_redone(tiny):
    out = rc.build("tiny", progress=lambda line: None)
    rc.manifest_path(out).unlink()                  # killed after the rename, before the manifest
    (out / "pypi__demo-1.0" / "leftover").write_text("stale")
    (tiny / ".tiny.partial-999").mkdir()            # a killed build's temporary folder
    rc.build("tiny", progress=lambda line: None)
    assert rc.manifest_path(out).is_file()
    assert not (out / "pypi__demo-1.0" / "leftover").exists()
    assert not (tiny / ".tiny.partial-999").exists()


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "parquet"])
def test_record_formats_skip_files_that_are_not_utf8(tiny, tmp_path, fmt):
    out = rc.build("tiny", dest=tmp_path / "elsewhere", fmt=fmt, progress=lambda line: None)
    assert out.parent == tmp_path / "elsewhere" and out.name.startswith("tiny-")
    rows = list(rc._scan(out))
    assert len(rows) == 10                           # 11 files, the Latin-1 one left out
    assert ("pypi/demo-1.0", "demo/__init__.py", b"print('last copy wins')\n") in rows
    manifest = json.loads(rc.manifest_path(out).read_text())
    assert manifest["totals"]["skipped_not_utf8"] == 1 and manifest["totals"]["records"] == 10
    if fmt == "parquet":
        import pyarrow.parquet as pq
        table = pq.read_table(next(out.glob("part-*.parquet")))
        assert table.column_names == ["content", "path", "repo_name", "stars", "license"]
    else:
        first = next(rc._scan_records(next(out.glob("part-*"))))
        assert first[0] in {"pypi/demo-1.0", "npm/@scope__tool-2.0.0", "maven/org.example__app-3.0"}


def test_licenses_are_normalized_to_spdx_ids():
    cases = {"MIT": "MIT", "mit license": "MIT", "Apache Software License": "Apache-2.0",
             "License :: OSI Approved :: Apache Software License": "Apache-2.0",
             "MIT OR Apache-2.0": "MIT,Apache-2.0", "Apache-2.0 WITH LLVM-exception": "Apache-2.0",
             "GPLv3+": "GPL-3.0-or-later", "bsd-3-clause": "BSD-3-Clause", "BSD": None, "UNKNOWN": None,
             "some custom terms": None, None: None}
    for value, expected in cases.items():
        assert rc.normalize_license(value) == expected, value
    assert rc.npm_license(b'{"licenses": [{"type": "MIT"}]}') == "MIT"
    assert rc.crate_license(b'[package]\nname = "x"\nlicense = "MIT/Apache-2.0"\n') == "MIT,Apache-2.0"
    assert rc.pypi_license(b"Name: x\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n") == "MIT"


def test_go_dirhash_ignores_zip_order(tmp_path):
    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    for path, names in ((a, ["m@v1/x.go", "m@v1/go.mod"]), (b, ["m@v1/go.mod", "m@v1/x.go"])):
        with zipfile.ZipFile(path, "w") as z:
            for name in names:
                z.writestr(name, name)
    assert rc.go_dirhash(a) == rc.go_dirhash(b) and rc.go_dirhash(a).startswith("h1:")
    assert rc.go_escape("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml"
    assert rc.crate_index_path("serde") == "se/rd/serde" and rc.crate_index_path("syn") == "3/s/syn"


def test_pinned_lists():
    for name, packages in rc.CORPORA.items():
        assert len(set(packages)) == len(packages), name
    key = lambda pkg: (pkg.ecosystem, pkg.name)   # noqa: E731
    tuned = {key(p) for p in rc.CORPORA["main"] + rc.CORPORA["large"]}
    assert not tuned & {key(p) for p in rc.CORPORA["holdout"]}, "holdout shares a package"
    assert rc.CORPORA["large"][: len(rc.CORPORA["main"])] == rc.CORPORA["main"]
    go = {p.pin for packages in rc.CORPORA.values() for p in packages if p.ecosystem == "go"}
    assert go == set(rc.GO_SUMS)
    assert rc.is_sdist_of("Django-5.1.1.tar.gz", "django", "5.1.1")
    assert rc.is_sdist_of("pydantic_core-2.23.4.tar.gz", "pydantic-core", "2.23.4")
    assert not rc.is_sdist_of("pydantic_core-2.23.4-cp311-none-any.whl", "pydantic-core", "2.23.4")


def test_family_of_paths():
    assert rc.family("src/a.rs") == "rust" and rc.family("lib/index.d.ts") == "js_ts"
    assert rc.family("CMakeLists.txt") == "build" and rc.family("README") == "docs"
    assert rc.family("LICENSE-MIT") == "docs" and rc.family("Cargo.lock") == "config"
    assert rc.family("bin/tool", b"#!/usr/bin/env bash\n") == "shell"
    assert rc.family("notebooks/x.ipynb") == "notebook"
