"""What the example plugin promises its users, down to the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    RecaugError,
    create,
    synthetic_table,
    tail_items,
)
from recaug_core.testing import tiny_split


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return Context(seed=0, work_dir=tmp_path, show_progress=False)


def ages(train: Dataset) -> dict[str, int]:
    return dict(zip(train.users["user_id"].to_pylist(), train.users["age"].to_pylist()))


def min_ages(train: Dataset) -> dict[str, int]:
    return dict(zip(train.items["item_id"].to_pylist(), train.items["min_age"].to_pylist()))


def test_minors_never_get_restricted_items(ctx):
    train = tiny_split().train
    age, limit = ages(train), min_ages(train)
    minor = next(u for u, a in age.items() if a < 18)
    adult = next(u for u, a in age.items() if a >= 18)
    restricted = next(i for i, m in limit.items() if m >= 18)
    open_item = next(i for i, m in limit.items() if m == 0)
    rows = synthetic_table(
        [minor, minor, adult, "syn-kid", "syn-nobody"],
        [restricted, open_item, restricted, restricted, restricted],
        "test",
        parent_user=[minor, minor, adult, minor, None],
    )
    result = create("filters", "age-appropriate").apply(train, rows, ctx)
    assert result.rejected["user_id"].to_pylist() == [minor, "syn-kid", "syn-nobody"]
    assert result.rejected["reason"].to_pylist() == [
        "age-appropriate: user is younger than the item's minimum age",
        "age-appropriate: user is younger than the item's minimum age",
        "age-appropriate: age-restricted item for a user of unknown age",
    ]
    lenient = create("filters", "age-appropriate", {"unknown_age": "keep"})
    assert lenient.apply(train, rows, ctx).rejected.num_rows == 2


def test_data_without_ages_is_a_clear_error(ctx):
    train = Dataset(pa.table({"user_id": ["u1"], "item_id": ["i1"]}))
    rows = synthetic_table(["u1"], ["i1"], "test")
    with pytest.raises(RecaugError, match="needs column 'age' in the users table"):
        create("filters", "age-appropriate").apply(train, rows, ctx)


def generate(target: str, ctx: Context, budget: int | None = None) -> tuple[Dataset, pa.Table]:
    train = tiny_split().train
    strategy = create("strategies", "cooccurrence", {"per_user": 4})
    strategy.fit(train, ctx)
    return train, strategy.generate(train, GenerationRequest(budget=budget, target=target), ctx)


def test_adds_items_the_user_lacks_that_cooccur_with_theirs(ctx):
    train, rows = generate("all", ctx)
    real = train.interaction_matrix(real_only=True)
    users = train.user_index.indices(rows["user_id"])
    items = train.item_index.indices(rows["item_id"])
    assert rows.num_rows == 4 * np.count_nonzero(np.asarray(real.sum(axis=1)).ravel())
    assert not np.asarray(real[users, items]).any(), "an item the user already has"
    cooccurrence = (real.T @ real).toarray()
    shared = (real[users].toarray() * cooccurrence[items]).sum(axis=1)
    assert (shared > 0).mean() > 0.9


def test_long_tail_target_adds_only_tail_items(ctx):
    train, rows = generate("long-tail", ctx)
    assert tail_items(train)[train.item_index.indices(rows["item_id"])].all()


def test_new_target_makes_declared_synthetic_users_with_parents(ctx):
    train, rows = generate("new", ctx, budget=40)
    assert rows.num_rows == 40
    assert pc.all(pc.starts_with(rows["user_id"], "syn-cooc-")).as_py()
    parents = train.user_index.lookup(rows["parent_user"])
    assert (parents >= 0).all()


def recaug(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recaug_app", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_recaug_finds_the_installed_plugin():
    done = recaug("plugins", "--json")
    assert done.returncode == 0, done.stderr
    plugin = next(p for p in json.loads(done.stdout) if p["name"] == "example")
    assert plugin["distribution"] == "recaug-example-plugin"
    assert plugin["version"] == "0.1.0"
    assert plugin["provides"] == {"filters": ["age-appropriate"], "strategies": ["cooccurrence"]}
    assert plugin["error"] is None


def test_augment_from_the_command_line(tmp_path: Path):
    out = tmp_path / "run"
    done = recaug(
        "augment",
        "--strategy",
        "cooccurrence",
        "-o",
        "per_user=5",
        "--filter",
        "age-appropriate",
        "--target",
        "all",
        "--out",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)["counts"]
    assert counts["kept"] > 0
    assert set(counts["rejected_by_reason"]) <= {
        "dedupe: repeats a real training pair",
        "dedupe: repeats an earlier synthetic row",
        "age-appropriate: user is younger than the item's minimum age",
    }
    too_young = "age-appropriate: user is younger than the item's minimum age"
    assert counts["rejected_by_reason"][too_young] > 0
    # no kept synthetic row gives a minor an item above their age
    kept = pq.read_table(out / "augmented.parquet")
    kept = kept.filter(pc.equal(kept["origin"], "cooccurrence"))
    users = pq.read_table(out / "users.parquet")
    items = pq.read_table(out / "items.parquet")
    age = dict(zip(users["user_id"].to_pylist(), users["age"].to_pylist()))
    limit = dict(zip(items["item_id"].to_pylist(), items["min_age"].to_pylist()))
    pairs = zip(kept["user_id"].to_pylist(), kept["item_id"].to_pylist())
    assert all(age[u] >= limit[i] for u, i in pairs)
