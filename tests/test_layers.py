"""The project's layers, checked over the import graph (every import, function-level ones too):

    airflow_dags                                      top: wiring only
    jobs.cli, jobs.commands, jobs.launch, jobs.pipeline, jobs.submit
    quality_checks                                    gates, reports, card
    jobs.stages, jobs.tools                           Spark jobs on the lake
    trainer                                           tokenizer, model, training loop
    jobs.core                                         errors, logs, config, lake, session, stage contract
    udfs | schemas                                    pure functions | table schemas (bottom)

A module may import its own layer or a lower one, never a higher one; udfs and schemas
import nothing of the project but themselves; and no two modules import each other,
directly or through others (a cycle hidden by a lazy import is still a cycle). No Spark.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("jobs", "udfs", "schemas", "trainer", "quality_checks", "airflow_dags")
# (prefix, layer): the longest matching prefix decides
LAYERS = [
    ("udfs", 0), ("schemas", 0),
    ("jobs", 1), ("jobs.core", 1),
    ("trainer", 2),
    ("jobs.stages", 3), ("jobs.tools", 3),
    ("quality_checks", 4),
    ("jobs.cli", 5), ("jobs.commands", 5), ("jobs.launch", 5), ("jobs.pipeline", 5), ("jobs.submit", 5),
    ("airflow_dags", 6),
]
SELF_CONTAINED = ("udfs", "schemas")  # may import only their own package


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for pkg in PACKAGES if (root / pkg).is_dir()
            for p in (root / pkg).rglob("*.py") if "__pycache__" not in p.parts}


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Project modules `path` imports anywhere in its body (`from a.b import c` is a.b.c when
    that is a module, else a.b)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer_of(name: str) -> tuple[str, int]:
    best = max((p for p, _ in LAYERS if name == p or name.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise AssertionError(f"module {name} is in no layer: add it to LAYERS in tests/test_layers.py")
    return best, dict(LAYERS)[best]


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Upward imports and imports out of a self-contained package, as readable lines."""
    found = []
    for mod, targets in sorted(graph.items()):
        prefix, layer = layer_of(mod)
        for target in sorted(targets):
            t_prefix, t_layer = layer_of(target)
            top = mod.split(".")[0]
            if top in SELF_CONTAINED and target.split(".")[0] != top:
                found.append(f"{mod} ({prefix}) imports {target}: {top} imports nothing of the project but itself")
            elif t_layer > layer:
                found.append(f"{mod} ({prefix}, layer {layer}) imports {target} ({t_prefix}, layer {t_layer}): upward")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = project_modules(root)
    known = set(modules)
    graph = {name: imports_of(path, name, known) for name, path in modules.items()}
    # A package's __init__ importing its own modules is how a package exposes them, not a cycle.
    return {m: {t for t in ts if not (m.startswith(t + ".") and t in modules and modules[t].name == "__init__.py")}
            for m, ts in graph.items()}


def test_every_module_is_in_a_layer():
    for name in project_modules(ROOT):
        layer_of(name)


def test_no_upward_import():
    assert violations(import_graph()) == []


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_checks_see_an_upward_import_and_a_cycle(tmp_path):
    """The checker itself: a stage module importing the CLI, and two modules importing each
    other through a function-level import, are both reported."""
    (tmp_path / "jobs" / "stages").mkdir(parents=True)
    (tmp_path / "jobs" / "core").mkdir()
    for init in ("jobs", "jobs/stages", "jobs/core"):
        (tmp_path / init / "__init__.py").write_text("")
    (tmp_path / "jobs" / "cli.py").write_text("from jobs.stages import x\n")
    (tmp_path / "jobs" / "stages" / "x.py").write_text("def f():\n    from jobs.cli import main\n")
    (tmp_path / "jobs" / "core" / "a.py").write_text("from jobs.core import b\n")
    (tmp_path / "jobs" / "core" / "b.py").write_text("def g():\n    import jobs.core.a\n")
    graph = import_graph(tmp_path)
    assert violations(graph) == ["jobs.stages.x (jobs.stages, layer 3) imports jobs.cli (jobs.cli, layer 5): upward"]
    assert ["jobs.core.a", "jobs.core.b"] in cycles(graph)


@pytest.mark.parametrize("package", SELF_CONTAINED)
def test_pure_packages_import_no_spark_session_machinery(package):
    """udfs/ is pure Python (no pyspark at all); schemas/ only pyspark's type classes."""
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                if package == "udfs":
                    assert not n.startswith("pyspark"), f"{path} imports {n}"
                else:
                    assert not n.startswith("pyspark") or n == "pyspark.sql.types", f"{path} imports {n}"
