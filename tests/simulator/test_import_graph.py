"""The simulator's modules import each other in one direction only, and only at the top of a module."""

from __future__ import annotations

import ast
from pathlib import Path

import kalshiweb.simulator

PACKAGE = "kalshiweb.simulator"
ROOT = Path(kalshiweb.simulator.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, ast.stmt]]:
    """(imported simulator module, statement) for every import in the file, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, ast.stmt]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.extend((a.name, node) for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    out.append((sub, node))
                elif base in known and base != name:
                    out.append((base, node))
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {
        name: {target for target, _ in _imports(name, path, known) if target != name}
        for name, path in modules.items()
    }


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_simulator_has_no_import_cycle() -> None:
    graph = _graph()
    assert graph[f"{PACKAGE}.engine"], "the walk found no imports at all"
    assert _find_cycle(graph) is None, " -> ".join(_find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_simulator_imports_only_at_module_level() -> None:
    """No import inside a function or under `if TYPE_CHECKING:` (the usual ways to hide a cycle)."""
    nested = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top:
                nested.append(f"{name}:{node.lineno}")
    assert nested == []


def test_the_engine_does_no_io() -> None:
    """The engine's modules import no network, server or wire code."""
    engine_parts = {"model", "events", "core", "book", "ledger", "matching", "lifecycle", "engine"}
    engine_parts |= {"bots", "catalog", "candles", "numfmt", "fees", "grid"}
    engine_parts |= {"history", "cash", "queue"}  # issue #15 history: the cutoff, cash moves, queue positions
    engine_parts |= {"subaccounts", "rfq"}  # issue #15: subaccounts; combos and RFQs
    engine_parts |= {"order_groups"}  # order groups (issue #15)
    graph = _graph()
    for part in engine_parts:
        for target in graph[f"{PACKAGE}.{part}"]:
            assert target.rpartition(".")[2] in engine_parts, (part, target)
    for part in engine_parts:
        source = (ROOT / f"{part}.py").read_text()
        for banned in ("import asyncio", "import socket", "import httpx", "import uvicorn", "import json"):
            assert banned not in source, (part, banned)
