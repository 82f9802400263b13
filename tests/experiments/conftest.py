"""Helpers of the experiment tests: small experiment files and the test plugins."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# A small demo world and the `pop` backend keep a whole experiment to about a second.
HEADER = """\
seeds = [0, 1]
ks = [10, 20]

[dataset]
ref = "demo"
options = { users = 120, items = 60, interactions = 1500 }

[[backends]]
name = "pop"
"""


def arm(name: str, strategy: str, **fields: object) -> str:
    """One [[arms]] table; values are written as TOML literals (strings quoted)."""
    lines = ["", "[[arms]]", f'name = "{name}"', f'strategy = "{strategy}"']
    for key, value in fields.items():
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_experiment(tmp_path: Path):
    def write(*arms: str, header: str = HEADER, name: str = "exp.toml") -> Path:
        path = tmp_path / name
        path.write_text(header + "".join(arms), encoding="utf-8")
        return path

    return write


@pytest.fixture
def test_plugins(toy_plugin: None) -> Iterator[None]:
    """The toy strategy plus the faulty/counting plugins, registered in-process."""
    import faulty_plugin

    from recaug_core.plugins import get_registry

    registry = get_registry()
    registry.register_module(faulty_plugin, "faulty")
    faulty_plugin.GENERATED.clear()
    try:
        yield
    finally:
        registry.unregister("faulty")
