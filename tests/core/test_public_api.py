"""The plugin API: the names of ``recaug_core.__all__``, documented, cheap to import, and the
only way the bundled plugins and the example plugin reach the core."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import recaug_core

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_TREES = [
    *(p for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists()),
    ROOT / "examples" / "recaug-example-plugin",
]
PUBLIC_MODULES = {"recaug_core", "recaug_core.testing"}  # the API, and contract tests
SHARED_PLUGIN_LIBRARY = "recaug_modelkit"


def core_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of a recaug_core module in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("recaug_core"):
            found.append((node.lineno, node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("recaug_core"):
                    found.append((node.lineno, alias.name, []))
    return found


def test_plugins_import_the_core_only_through_its_public_names():
    wrong = []
    for tree in PLUGIN_TREES:
        for path in tree.rglob("*.py"):
            for line, module, names in core_imports(path):
                where = f"{path.relative_to(ROOT)}:{line}"
                if module not in PUBLIC_MODULES:
                    wrong.append(f"{where} imports private module {module}")
                elif module == "recaug_core":
                    wrong += [
                        f"{where} imports {n}, not in __all__"
                        for n in names
                        if n not in recaug_core.__all__
                    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_private_import(tmp_path):
    planted = tmp_path / "plugin.py"
    planted.write_text("def f():\n    from recaug_core.data import Dataset\n")
    assert core_imports(planted) == [(2, "recaug_core.data", ["Dataset"])]


def test_bundled_plugins_share_code_only_through_the_support_package():
    packages = {p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists()}
    wrong = []
    for package in packages:
        for path in (ROOT / "plugins" / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom):
                    targets = [node.module or ""]
                elif isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                else:
                    continue
                for target in targets:
                    top = target.split(".")[0]
                    if top in packages and top not in (package, SHARED_PLUGIN_LIBRARY):
                        wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_the_support_package_is_no_plugin():
    pyproject = (ROOT / "pyproject.toml").read_text()
    entry_points = pyproject.split("[project.entry-points.recaug]")[1].split("\n[")[0]
    assert SHARED_PLUGIN_LIBRARY not in entry_points


@pytest.mark.parametrize("name", sorted(recaug_core.__all__))
def test_every_public_name_resolves_and_is_documented_with_its_version(name):
    assert getattr(recaug_core, name) is not None
    api = (ROOT / "docs" / "api.md").read_text()
    assert re.search(rf"^\| `{re.escape(name)}` \| \d+\.\d+\.\d+ \|", api, re.M), (
        f"docs/api.md needs a row '| `{name}` | VERSION | ...'"
    )


def test_every_public_name_has_a_home_module():
    homes = recaug_core._HOMES  # name -> module, what the lazy import reads
    assert set(recaug_core.__all__) == {"__version__", "hookimpl", *homes}


def test_no_public_name_hides_a_private_module():
    """A submodule import sets an attribute of the package: a public name equal to a module
    name would then change meaning (only `arrays` is a module on purpose)."""
    modules = {p.stem for p in (ROOT / "recaug_core").glob("*.py")}
    assert set(recaug_core.__all__) & modules == {"arrays"}


def test_importing_the_core_is_cheap():
    code = (
        "import sys, recaug_core; from recaug_core import hookimpl; "
        "print(sorted(m for m in ('pyarrow', 'pydantic', 'torch', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'RunFolder'"):
        recaug_core.RunFolder  # noqa: B018
