"""Fixtures of the filter tests. Helper modules of this folder are imported by name: pytest
runs in importlib mode, which does not put test folders on sys.path, so this file does."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from filters_planted import PlantedPlugin, demo_split, planted_rows

from recaug_core import Context, Split
from recaug_core.registry import get_registry


@pytest.fixture(scope="session")
def split() -> Split:
    return demo_split()


@pytest.fixture(scope="session")
def planted(split: Split) -> pa.Table:
    return planted_rows(split.train)


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return Context(seed=0, work_dir=tmp_path, show_progress=False)


@pytest.fixture
def planted_plugin():
    """The `planted` strategy, registered in-process for CLI tests."""
    registry = get_registry()
    registry.register_module(PlantedPlugin(), "planted-test")
    yield
    registry.unregister("planted-test")
