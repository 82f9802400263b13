"""The `sasrec` backend: contract, learning order, the scoring history, early stopping, weights."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pytest

from recaug_app.evaluate import evaluate_model
from recaug_core import (
    Context,
    Dataset,
    OptionsError,
    Split,
    SplitSpec,
    split_dataset,
    synthetic_table,
)
from recaug_core.testing import BackendContract
from recaug_sasrec.backend import SasrecBackend

FAST = {"hidden": 16, "inner": 16, "max_len": 8, "epochs": 3, "batch_size": 16}
N_ITEMS = 24


class TestSasrecContract(BackendContract):
    component_name = "sasrec"
    options: ClassVar[dict[str, Any]] = FAST


def cycle_world(n_users: int = 90, lengths: tuple[int, int] = (6, 12), seed: int = 0) -> pa.Table:
    """Every user walks the items in order (i, i+1, i+2, ... mod N_ITEMS) from a random start,
    one step per minute: the next item is fully predictable from the last one."""
    rng = np.random.default_rng(seed)
    length = rng.integers(lengths[0], lengths[1] + 1, n_users)
    start = rng.integers(0, N_ITEMS, n_users)
    user = np.repeat(np.arange(n_users), length)
    step = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    return _table(user, (start[user] + step) % N_ITEMS, step)


def jump_world(n_users: int = 90, seed: int = 0) -> Split:
    """Cycle walks for training; the validation item jumps somewhere off the walk and the test
    item follows the jump. Only a model that reads the validation item can hit the test."""
    rng = np.random.default_rng(seed)
    length = rng.integers(6, 11, n_users)
    start = rng.integers(0, N_ITEMS, n_users)
    jump = start + length + 1 + (rng.random(n_users) * (N_ITEMS - length - 2)).astype(int)
    total = length + 2
    user = np.repeat(np.arange(n_users), total)
    step = np.arange(total.sum()) - np.repeat(np.cumsum(total) - total, total)
    from_end = total[user] - step  # 2: validation row, 1: test row
    item = np.where(
        from_end > 2, start[user] + step, np.where(from_end == 2, jump[user], jump[user] + 1)
    )
    table = _table(user, item % N_ITEMS, step)
    part = np.where(from_end > 2, "train", np.where(from_end == 2, "valid", "test"))
    table = table.append_column("split", pa.array(part))
    return split_dataset(Dataset(table), SplitSpec(protocol="given"))


def _table(user: np.ndarray, item: np.ndarray, step: np.ndarray) -> pa.Table:
    return pa.table(
        {
            "user_id": [f"u{u}" for u in user],
            "item_id": [f"i{i}" for i in item],
            "timestamp": pa.array(1_000_000 + 60 * step, pa.int64()),
        }
    )


def _ctx(tmp_path: Path, seed: int = 0) -> Context:
    return Context(seed=seed, work_dir=tmp_path, show_progress=False)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    # These models are tiny: a second OpenMP thread only spins, and on a shared machine the
    # spinning costs far more than it saves.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cycle_split() -> Split:
    return split_dataset(Dataset(cycle_world()), SplitSpec(protocol="leave-one-out"))


def _hit_at_1(options: dict[str, Any], split: Split, train: Dataset, tmp_path: Path) -> float:
    result, _ = evaluate_model(SasrecBackend, options, split, train, (1,), _ctx(tmp_path))
    return result.values["hit@1"]


LEARNS = {"hidden": 32, "inner": 32, "max_len": 10, "epochs": 40, "patience": 40, "lr": 0.01}


def test_predicts_the_item_after_the_validation_item(tmp_path: Path) -> None:
    # The full protocol: all items ranked, training and validation items masked. Scoring from
    # the training rows alone would predict the walk's next step, never the test item.
    assert _hit_at_1(LEARNS, jump_world(), jump_world().train, tmp_path) > 0.8


def test_pseudo_users_are_extra_training_sequences(tmp_path: Path) -> None:
    # Real users keep one training item each (nothing to learn an order from); synthetic
    # pseudo-users carry the pattern. Only a model that trains on them can predict the test.
    split = split_dataset(
        Dataset(cycle_world(n_users=60, lengths=(3, 3), seed=1)),
        SplitSpec(protocol="leave-one-out"),
    )
    walks = cycle_world(n_users=40, lengths=(10, 10), seed=2)
    pseudo = synthetic_table(
        pa.array([f"syn-{u}" for u in walks.column("user_id").to_pylist()]),
        walks.column("item_id"),
        "test",
        parent_user=pa.array(["u0"] * walks.num_rows),
        timestamp=walks.column("timestamp"),
    )
    augmented = split.train.with_interactions(
        pa.concat_tables([split.train.interactions, pseudo]), extend_users=True
    )
    assert _hit_at_1(LEARNS, split, augmented, tmp_path / "helped") > 0.6
    assert _hit_at_1(LEARNS, split, split.train, tmp_path / "plain") < 0.3


def test_bce_loss_with_sampled_negatives_also_learns(cycle_split: Split, tmp_path: Path) -> None:
    options = {**LEARNS, "loss": "bce", "negatives": 4, "epochs": 60, "patience": 60, "lr": 0.01}
    assert _hit_at_1(options, cycle_split, cycle_split.train, tmp_path) > 0.5


def test_early_stopping_keeps_the_best_epoch(cycle_split: Split, tmp_path: Path) -> None:
    model = SasrecBackend({**FAST, "epochs": 200, "patience": 2, "lr": 0.01})
    model.fit(cycle_split.train, _ctx(tmp_path), valid=cycle_split.valid)
    config = json.loads((model.checkpoint / "config.json").read_text())
    assert config["epochs_run"] < 200
    assert config["epochs_run"] - config["best_epoch"] == 2
    assert config["valid_ndcg@10"] > 0


def test_without_validation_trains_every_epoch(cycle_split: Split, tmp_path: Path) -> None:
    model = SasrecBackend({**FAST, "epochs": 4})
    model.fit(cycle_split.train, _ctx(tmp_path), valid=None)
    config = json.loads((model.checkpoint / "config.json").read_text())
    assert config["epochs_run"] == 4 and config["valid_ndcg@10"] is None


def test_weights_are_safetensors_and_reload_to_the_same_scores(
    cycle_split: Split, tmp_path: Path
) -> None:
    import torch

    from recaug_modelkit.sasrec.model import load_model, windows

    trained = SasrecBackend(FAST)
    trained.fit(cycle_split.train, _ctx(tmp_path), valid=cycle_split.valid)
    folder = trained.checkpoint
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["item_ids"] == cycle_split.train.item_index.ids.to_pylist()
    model, _ = load_model(folder)
    users = np.arange(5)
    starts, lengths = trained.histories_.rows(users)
    rows = windows(
        torch.as_tensor(trained.histories_.items + 1),
        torch.as_tensor(starts),
        torch.as_tensor(lengths),
        config["architecture"]["max_len"],
    )
    with torch.no_grad():
        reloaded = model.score_last(rows).numpy()
    np.testing.assert_allclose(reloaded, trained.score(users), rtol=1e-5, atol=1e-6)


def test_heads_must_divide_hidden() -> None:
    with pytest.raises(OptionsError, match="heads"):
        SasrecBackend({"hidden": 30, "heads": 4})


def test_listing_plugins_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from recaug_core.registry import get_registry\n"
        "registry = get_registry()\n"
        "registry.get('backends', 'sasrec'); registry.get('strategies', 'seq')\n"
        "from recaug_app.cli import invoke\n"
        "assert invoke(['list', 'backends']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
