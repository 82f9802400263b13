"""The core's own bundled components keep the contracts plugin authors test against."""

from __future__ import annotations

from pathlib import Path

from recaug_core.testing import BackendContract, FilterContract, SourceContract


class TestPopBackend(BackendContract):
    component_name = "pop"


class TestDedupeFilter(FilterContract):
    component_name = "dedupe"


class TestDemoSource(SourceContract):
    component_name = "demo"
    options = {"users": 40, "items": 30, "interactions": 400}
    expected_rows = 400

    def write_sample(self, folder: Path) -> str:
        return "demo"

    def test_loads_the_interaction_schema(self, tmp_path):
        self.expected_rows = len(self.make().load("demo"))  # demo sizes are approximate
        super().test_loads_the_interaction_schema(tmp_path)
