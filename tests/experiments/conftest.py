"""Helpers of the experiment tests: small experiment files and the test plugins."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from experiment_files import HEADER


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

    from recaug_core.registry import get_registry

    registry = get_registry()
    registry.register_module(faulty_plugin, "faulty")
    faulty_plugin.GENERATED.clear()
    try:
        yield
    finally:
        registry.unregister("faulty")
