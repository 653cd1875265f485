"""Every import a benchmark script makes from the project's own packages resolves.

The benchmarks are run by hand and by no other test, so a module moved or a function renamed
would break them silently. This reads each benchmarks/*.py with `ast` (no Spark, nothing run)
and, for every `import X` / `from X import a, b` at any nesting level (functions included)
whose top-level package is one of the project's, imports the module and checks each name
exists (an attribute, or a submodule)."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted((REPO_ROOT / "benchmarks").glob("*.py"))
PACKAGES = {"jobs", "udfs", "trainer", "quality_checks", "schemas"}

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def project_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) for each import of a project package in `path`; names is empty
    for `import X`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    found.append((node.lineno, alias.name, []))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.split(".")[0] in PACKAGES:
                found.append((node.lineno, node.module, [a.name for a in node.names]))
    return sorted(found)


def unresolved(module_name: str, names: list[str]) -> list[str]:
    """What of `from module_name import names` (or `import module_name`) does not resolve."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        return [f"module {module_name} ({type(e).__name__}: {e})"]
    missing = []
    for name in names:
        if name == "*" or hasattr(module, name):
            continue
        try:
            found = importlib.util.find_spec(f"{module_name}.{name}") is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(f"{module_name}.{name}")
    return missing


def test_the_scan_sees_nested_imports_and_stale_paths(tmp_path):
    """Imports inside functions are found, other packages are ignored, and an old path or a
    missing name is reported (what a benchmark importing pre-reorganisation modules had)."""
    script = tmp_path / "bench.py"
    script.write_text("import os\nimport jobs.core.stage\n"
                      "def main():\n    from jobs.config import load_config\n"
                      "    if True:\n        from jobs.core.stage import execute_stage, no_such_name\n"
                      "    from jobs import stages, no_such_module\n")
    assert project_imports(script) == [(2, "jobs.core.stage", []), (4, "jobs.config", ["load_config"]),
                                       (6, "jobs.core.stage", ["execute_stage", "no_such_name"]),
                                       (7, "jobs", ["stages", "no_such_module"])]
    assert unresolved("jobs.core.stage", []) == []
    assert unresolved("jobs.config", ["load_config"])[0].startswith("module jobs.config")
    assert unresolved("jobs.core.stage", ["execute_stage", "no_such_name"]) == ["jobs.core.stage.no_such_name"]
    assert unresolved("jobs", ["stages", "no_such_module"]) == ["jobs.no_such_module"]  # a submodule counts


@pytest.mark.parametrize("path", BENCHMARKS, ids=[p.name for p in BENCHMARKS])
def test_benchmark_imports_resolve(path):
    problems = []
    for line, module_name, names in project_imports(path):
        for what in unresolved(module_name, names):
            problems.append(f"{path.name}:{line}: {what}")
    assert not problems, "stale imports:\n" + "\n".join(problems)
