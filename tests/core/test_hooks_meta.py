"""Every hook is documented and tested (a new hook without both fails here)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from recaug_core import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "recaug_spec")
)


def test_there_are_hooks():
    assert "register_strategies" in HOOKS and len(HOOKS) == 5


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    docs = (ROOT / "docs" / "hooks.md").read_text()
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert re.search(rf"^## {hook}\({re.escape(params)}\)$", docs, re.M), (
        f"docs/hooks.md needs a '## {hook}({params})' section"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook):
    here = Path(__file__).resolve()
    tests = [p for p in (ROOT / "tests").rglob("*.py") if p != here]
    assert any(f"def {hook}(" in p.read_text() for p in tests), (
        f"no test implements the {hook} hook"
    )
