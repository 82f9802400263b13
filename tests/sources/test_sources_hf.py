"""The `hf` source: datasets saved with save_to_disk, and load_dataset of local files.

No test reaches the Hub: every dataset is written here, and `hf:` points at local files.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from recaug_core import DataError, RecaugError
from recaug_core.loading import pick_source
from recaug_sources import samples
from recaug_sources.hf import HFSource

datasets = pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # The libraries read HF_HUB_OFFLINE once, at import: set their switches, so that no test
    # waits on a network that is not there.
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


def test_saved_dataset_dict_is_detected_and_split_chosen(tmp_path: Path) -> None:
    ref = samples.write("hf-saved", tmp_path)
    assert pick_source(ref).name == "hf"
    assert len(HFSource().load(ref)) == 12
    assert len(HFSource({"split": "test"}).load(ref)) == 2
    with pytest.raises(RecaugError, match=r"no split 'valid' \(splits: train, test\)"):
        HFSource({"split": "valid"}).load(ref)


def test_local_files_through_load_dataset(tmp_path: Path) -> None:
    ref = samples.write("hf-files", tmp_path)
    data = HFSource({"cache_dir": str(tmp_path / "cache")}).load(ref)
    assert len(data) == 12
    assert data.interactions.column("user_id")[0].as_py() == "1"


def test_column_mapping_and_items(tmp_path: Path) -> None:
    saved = tmp_path / "events"
    datasets.Dataset.from_dict(
        {"visitor": ["a", "b"], "product": ["p1", "p2"], "when": [1_000_000_000_000, 5]}
    ).save_to_disk(str(saved))
    catalog = tmp_path / "catalog"
    datasets.Dataset.from_dict({"product": ["p1", "p2"], "title": ["One", "Two"]}).save_to_disk(
        str(catalog)
    )
    options = {"user": "visitor", "item": "product", "timestamp": "when", "time_unit": "ms"}
    data = HFSource({**options, "items": str(catalog)}).load(str(saved))
    assert data.interactions.column("timestamp").to_pylist() == [1_000_000_000, 0]
    assert data.items is not None and data.items.column("title").to_pylist() == ["One", "Two"]


def test_bad_rows_name_the_dataset_and_row(tmp_path: Path) -> None:
    saved = tmp_path / "bad"
    datasets.Dataset.from_dict({"user_id": ["a", ""], "item_id": ["x", "y"]}).save_to_disk(
        str(saved)
    )
    with pytest.raises(DataError, match=r"bad, row 2, column 'user_id': empty id"):
        HFSource().load(str(saved))


def test_unknown_dataset_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(RecaugError, match=r"hf:no-such-owner/no-such-set: could not load"):
        HFSource({"cache_dir": str(tmp_path)}).load("hf:no-such-owner/no-such-set")


def test_cli_help_does_not_import_datasets_or_torch() -> None:
    code = (
        "import sys; from recaug_app.cli import invoke; from recaug_core.registry import "
        "get_registry; invoke(['--help']); get_registry().components('sources'); "
        "print(sorted(m for m in ('datasets', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]")
