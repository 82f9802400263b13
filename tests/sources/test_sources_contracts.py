"""Every bundled source keeps the SourceContract promises on its fabricated sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from recaug_core import INTERACTION_SCHEMA
from recaug_core.testing import SourceContract
from recaug_sources import samples


class _SampleContract(SourceContract):
    sample: str

    def write_sample(self, folder: Path) -> str:
        return samples.write(self.sample, folder)


class TestTableCsv(_SampleContract):
    component_name, sample, expected_rows = "table", "table-csv", 12


class TestTableFolder(_SampleContract):
    component_name, sample, expected_rows = "table", "table-folder", 12


class TestTableJsonlGz(_SampleContract):
    component_name, sample, expected_rows = "table", "table-jsonl-gz", 12


class TestTableParquet(_SampleContract):
    component_name, sample, expected_rows = "table", "table-parquet", 12


class TestRecBole(_SampleContract):
    component_name, sample, expected_rows = "recbole", "recbole", 12


class TestMovieLens100K(_SampleContract):
    component_name, sample, expected_rows = "movielens", "movielens-100k", 9


class TestMovieLens1M(_SampleContract):
    component_name, sample, expected_rows = "movielens", "movielens-1m", 9


class TestMovieLens25M(_SampleContract):
    component_name, sample, expected_rows = "movielens", "movielens-25m", 12


class TestAmazon2018(_SampleContract):
    component_name, sample, expected_rows = "amazon", "amazon-2018", 12


class TestAmazon2023(_SampleContract):
    component_name, sample, expected_rows = "amazon", "amazon-2023", 12


class TestMind(_SampleContract):
    component_name, sample = "mind", "mind"
    expected_rows = samples.MIND_INTERACTIONS


class TestHFSaved(_SampleContract):
    component_name, sample, expected_rows = "hf", "hf-saved", 12


class TestDemo(SourceContract):
    component_name = "demo"
    options: ClassVar[dict[str, Any]] = {"users": 20, "items": 15, "interactions": 200}
    expected_rows = 200

    def write_sample(self, folder: Path) -> str:
        return "demo"

    def test_loads_the_interaction_schema(self, tmp_path: Path) -> None:
        # demo's count is approximate (repeated pairs are merged): check the schema and a bound
        data = self.make().load("demo")
        assert data.interactions.schema.names[:7] == list(INTERACTION_SCHEMA.names)
        assert 0 < len(data) <= self.expected_rows
