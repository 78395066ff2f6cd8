"""The layers of service/ (pyproject.toml [tool.importlinter], README "Where things live")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    adjacency = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in adjacency[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in adjacency:
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("service", "training", include_external_packages=False)
    assert _cycles(graph) == []


def test_the_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("package", ["service.engine", "service.connectors", "service.store", "service.ai",
                                     "service.kernel", "service.sandbox"])
def test_lower_layers_import_without_flows_or_the_app(package: str) -> None:
    code = (f"import pkgutil, importlib, sys, {package} as p\n"
            f"for m in pkgutil.walk_packages(p.__path__, '{package}.'):\n"
            "    if 'migrations' not in m.name: importlib.import_module(m.name)\n"
            "print(sorted({n for n in sys.modules if n.startswith(('service.flows', 'service.app', 'service.web', "
            "'service.api', 'training'))}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"{package} pulls in {result.stdout.strip()}"
