"""Import layers, read from the source with ``ast``: what each tunesmith module imports when it is imported.

Only imports that run at import time count: module-level statements (also inside ``try`` and
``if``), not those under ``if TYPE_CHECKING:`` nor inside functions. Importing ``a.b.c`` runs
``a`` and ``a.b`` first, so those count too, except the packages the importing module is in
(they ran before it).
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted((SRC / "tunesmith").rglob("*.py"))}


def _runtime_statements(body):
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _runtime_statements(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            yield node
            for block in ("body", "orelse", "finalbody"):
                yield from _runtime_statements(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                yield from _runtime_statements(handler.body)
        elif isinstance(node, ast.ClassDef):
            yield from _runtime_statements(node.body)
        else:
            yield node


def _with_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _imports(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in _runtime_statements(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES}
    targets = set()
    for name in found:
        targets |= {n for n in _with_parents(name) if n in MODULES}
    return targets - _with_parents(module)  # a module's own packages ran before it




GRAPH = {module: _imports(module) for module in MODULES}


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def _cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in GRAPH:
        if node not in index:
            visit(node)
    return groups


def test_the_graph_sees_imports():
    assert "tunesmith.execution._controller" in GRAPH["tunesmith.tuner"]
    assert "tunesmith.execution" in GRAPH["tunesmith.tuner"]  # the parent package of what it imports runs first
    assert "tunesmith.execution" not in GRAPH["tunesmith.execution._controller"]  # its own package ran before it


def test_no_import_circles():
    assert _cycles() == []


@pytest.mark.parametrize("package", ["tunesmith.search", "tunesmith.schedulers", "tunesmith.stopper"])
def test_algorithms_never_import_execution(package):
    offenders = {m: sorted(r for r in _reachable(m) if r.startswith("tunesmith.execution"))
                 for m in MODULES if m == package or m.startswith(package + ".")}
    assert {m: r for m, r in offenders.items() if r} == {}


def test_storage_never_imports_the_controller():
    offenders = [m for m in MODULES if m.startswith("tunesmith.storage")
                 and "tunesmith.execution._controller" in _reachable(m)]
    assert offenders == []


def test_importing_the_tuner_loads_fifo_and_the_variant_generator_only():
    code = "import sys, json, tunesmith.tuner; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m for m in json.loads(out.stdout) if m.startswith("tunesmith.")}
    schedulers = sorted(m for m in loaded if m.startswith("tunesmith.schedulers."))
    searchers = sorted(m for m in loaded if m.startswith("tunesmith.search."))
    assert schedulers == ["tunesmith.schedulers._trial_scheduler"]
    assert set(searchers) <= {"tunesmith.search._basic_variant", "tunesmith.search._search_algorithm",
                              "tunesmith.search._domain", "tunesmith.search._param_space", "tunesmith.search.sample",
                              "tunesmith.search.variant_generator", "tunesmith.search._searcher"}
