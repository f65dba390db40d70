"""No two modules import each other, directly or around a circle: each layer of the runtime
builds on the ones below it (docs/architecture.md, Import rules).

Read from the source, so a circle is found even when it is closed by an import inside a
function (it still ties the two modules together: neither can move or be tested alone).
Imports under ``if TYPE_CHECKING:`` are annotations only and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("runtime", "drivers", "sim", "bench")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, this: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules ``this`` imports: ``from a.b import c`` is ``a.b.c`` when that is
    a module, else ``a.b`` (its ``__init__``)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = this.split(".")[: len(this.split(".")) - node.level + is_package]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in known and name != this}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {
        name: _imports(ast.parse(path.read_text(encoding="utf-8")), name,
                       path.name == "__init__.py", known)
        for name, path in modules.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
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
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_no_module_imports_another_that_imports_it_back():
    graph = import_graph()
    found = circles(graph)
    lines = []
    for group in found:
        members = set(group)
        lines.append(" ↔ ".join(group) + ": " + "; ".join(
            f"{a} → {', '.join(sorted(graph[a] & members))}" for a in group))
    assert not found, "import circles:\n" + "\n".join(lines)


def test_the_check_finds_a_circle_and_skips_annotations():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    known = {"p", "p.x", "p.y"}
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p.y import Y\n"
        "def f():\n    from p import x\n"
    )
    assert _imports(tree, "p.z", False, known) == {"p.x"}


#: Private modules of another package that are still imported, and why the package's public
#: name will not do. Each entry must still be needed (the test fails when one is not).
PRIVATE_EXCEPTIONS = {
    ("runtime.cli._bench", "bench._suite"):
        "bench/ is the checkout's benchmark directory, not an installed package with public "
        "names; `kintsugi bench` runs its suite module from the checkout",
}


def private_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(importer, module) where ``module`` is a private module (``p._m``) of a package ``p``
    that the importer is not inside (its own package's and its ancestors' are fine)."""
    found = set()
    for importer, targets in graph.items():
        for target in targets:
            owner, _, leaf = target.rpartition(".")
            private = leaf.startswith("_") and not leaf.startswith("__") and bool(owner)
            if private and not (importer == owner or importer.startswith(owner + ".")):
                found.add((importer, target))
    return found


def test_other_packages_private_modules_are_not_imported():
    """bench/ measures the runtime from inside and may reach its internals; the runtime,
    drivers and sim import each other's public names."""
    graph = {k: v for k, v in import_graph().items() if not k.startswith("bench")}
    found = private_imports(graph)
    unexpected = sorted(found - set(PRIVATE_EXCEPTIONS))
    assert not unexpected, "import the package's public name instead:\n" + "\n".join(
        f"{importer} imports {target}" for importer, target in unexpected)
    assert set(PRIVATE_EXCEPTIONS) <= found, "no longer needed: " + str(
        set(PRIVATE_EXCEPTIONS) - found)


def test_the_private_check_allows_own_and_ancestor_packages_only():
    graph = {"sim.emulators._feed": {"sim._check"}, "runtime.cli._x": {"runtime._signals"},
             "runtime.config": {"runtime.bus._endpoints"}, "runtime.bus": {"runtime.bus._a"}}
    assert private_imports(graph) == {("runtime.config", "runtime.bus._endpoints")}
