"""The module import graph of recaug_core, recaug_app and the plugins: no cycle, two layers.

``recaug_core`` (hook specs, data model, contracts, the augmentation run) is the layer plugins
build on; ``recaug_app`` (the CLI, experiments, evaluation, statistics, reports) is an
application built on the core. Nothing in the core or in a plugin may import the application.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a cycle that
only a function-level import hides still couples two modules both ways. Built with ``ast``,
so no module is imported and a plugin's heavy dependencies do not matter.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = {
    "recaug_core": ROOT / "recaug_core",
    "recaug_app": ROOT / "recaug_app",
    **{path.name: path for path in (ROOT / "plugins").iterdir() if (path / "__init__.py").exists()},
    "recaug_example": ROOT / "examples" / "recaug-example-plugin" / "recaug_example",
}


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages above."""
    found = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported(tree: ast.AST, name: str, known: set[str]) -> Iterator[str]:
    """The known modules that module ``name`` imports, anywhere in its code."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = name.split(".")[: -node.level] if node.level else []
                base = ".".join([*package, base] if base else package)
            # `from pkg import sub` imports the submodule `pkg.sub` when there is one
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {
        name: set(imported(ast.parse(path.read_text(encoding="utf-8")), name, known))
        for name, path in found.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def below_the_application(edges: dict[str, set[str]]) -> list[str]:
    """Imports of ``recaug_app`` from any module outside it (the core, the plugins)."""
    return sorted(
        f"{name} imports {target}"
        for name, targets in edges.items()
        if not _in_app(name)
        for target in targets
        if _in_app(target)
    )


def _in_app(module: str) -> bool:
    return module == "recaug_app" or module.startswith("recaug_app.")


def test_the_graph_sees_function_level_imports():
    edges = graph()
    # recaug_vae imports its strategy inside the hook function only
    assert "recaug_vae.strategy" in edges["recaug_vae"]


def test_cycle_detection_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_anywhere():
    found = cycles(graph())
    assert not found, "import cycles (each group imports itself through the others): " + "; ".join(
        " <-> ".join(group) for group in found
    )


def test_the_graph_covers_both_layers():
    edges = graph()
    assert "recaug_core.augmentation" in edges["recaug_app.experiment"]
    assert "recaug_app.commands.run" in edges


def test_the_layer_check_sees_a_planted_import():
    planted = {"recaug_core.pipeline": {"recaug_app.stats"}, "recaug_app.cli": {"recaug_core"}}
    assert below_the_application(planted) == ["recaug_core.pipeline imports recaug_app.stats"]


def test_neither_the_core_nor_a_plugin_imports_the_application():
    found = below_the_application(graph())
    assert not found, "the core and the plugins must not import recaug_app: " + "; ".join(found)
