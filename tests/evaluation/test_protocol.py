"""The evaluation protocol: what is masked, who is ranked, which split, how seeds aggregate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from recaug_app.evaluate import aggregate
from recaug_app.results import Metrics
from recaug_core import RankingTask, Recommender, SplitSpec, ranking_means, split_dataset
from recaug_core.data import Dataset, concat_interactions, synthetic_table
from recaug_core.ranking import rank

ITEMS = [f"i{k}" for k in range(6)]


class FixedScores(Recommender):
    """Scores item k with 6 - k for every user: i0 best, i5 worst."""

    name = "fixed-scores"
    description = "test helper"

    def fit(self, train: Dataset, ctx: object, valid: Dataset | None = None) -> None:
        self.n_items = train.n_items

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.tile(np.arange(6, 0, -1, dtype=np.float32), (len(users), 1))


def given_split() -> object:
    # u0: train i0, valid i1, test i2 and i4; u1: train i3, test i0; u2: test only (no train).
    rows = [
        ("u0", "i0", "train"),
        ("u0", "i1", "valid"),
        ("u0", "i2", "test"),
        ("u0", "i4", "test"),
        ("u1", "i3", "train"),
        ("u1", "i0", "test"),
        ("u2", "i1", "test"),
    ]
    table = pa.table(
        {
            "user_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "split": [r[2] for r in rows],
        }
    )
    data = Dataset(table, items=pa.table({"item_id": ITEMS}))
    return split_dataset(data, SplitSpec(protocol="given"))


def top_lists(split: object, train: Dataset, k: int = 6) -> dict[str, list[str]]:
    model = FixedScores()
    model.fit(train, None)
    ranking = rank(model, train, split.test, [split.train, split.valid], k)
    users = train.user_index.to_ids(ranking.users).to_pylist()
    items = train.item_index.ids.to_pylist()
    return {u: [items[i] for i in row if i >= 0] for u, row in zip(users, ranking.top)}


def test_real_train_and_valid_items_are_masked() -> None:
    split = given_split()
    lists = top_lists(split, split.train)
    assert lists["u0"] == ["i2", "i3", "i4", "i5"]  # i0 (train) and i1 (valid) masked
    assert lists["u1"] == ["i0", "i1", "i2", "i4", "i5"]  # only i3 (train) masked


def test_synthetic_row_duplicating_a_test_item_does_not_hide_it() -> None:
    split = given_split()
    fake = synthetic_table(["u0", "u0"], ["i2", "i5"], "some-strategy", parent_user=["u0"] * 2)
    augmented = split.train.with_interactions(concat_interactions([split.train.interactions, fake]))
    lists = top_lists(split, augmented)
    assert "i2" in lists["u0"] and "i5" in lists["u0"]
    model = FixedScores()
    model.fit(augmented, None)
    task = RankingTask.build(augmented, split.test, [split.train, split.valid])
    # u0's first candidate i2 is a held-out hit although a synthetic row also holds it.
    assert ranking_means(task.rank(model.score, 1), augmented.n_items, [1])["hit@1"] == 1.0


def test_users_without_real_training_history_are_skipped() -> None:
    split = given_split()
    # u2 has test rows only; "new-1" is a synthetic user with no real row at all.
    fake = synthetic_table(["new-1"], ["i1"], "some-strategy")
    augmented = split.train.with_interactions(
        concat_interactions([split.train.interactions, fake]), extend_users=True
    )
    for train in (split.train, augmented):
        assert sorted(top_lists(split, train)) == ["u0", "u1"]


def test_a_user_with_fewer_candidates_than_k_gets_empty_slots() -> None:
    split = given_split()
    model = FixedScores()
    model.fit(split.train, None)
    ranking = rank(model, split.train, split.test, [split.train, split.valid], 6)
    u0 = int(np.flatnonzero(ranking.users == split.train.user_index.indices(["u0"])[0])[0])
    assert ranking.top[u0].tolist()[4:] == [-1, -1]  # 6 items, 2 masked: 4 candidates


def test_seeds_aggregate_mean_and_std() -> None:
    runs = [
        {"ndcg@10": 0.2, "users": 5, "groups": {"sparse": {"ndcg@10": 0.1, "users": 2}}},
        {"ndcg@10": 0.4, "users": 5, "groups": {"sparse": {"ndcg@10": 0.3, "users": 2}}},
    ]
    result = aggregate([Metrics.model_validate(run) for run in runs])
    assert result.values["ndcg@10"] == pytest.approx(0.3)
    assert result.std.values["ndcg@10"] == pytest.approx(0.1)  # population std of 0.2 and 0.4
    assert result.value("ndcg@10", "sparse") == pytest.approx(0.2)
    assert result.std.groups["sparse"]["ndcg@10"] == pytest.approx(0.1)
    assert result.users == 5
    assert result.per_seed == [{"ndcg@10": 0.2}, {"ndcg@10": 0.4}]
    # the JSON keeps the flat layout of every version: metric names are keys
    assert result.model_dump()["groups"]["sparse"] == {"ndcg@10": pytest.approx(0.2), "users": 2}


# -- end to end through the CLI ---------------------------------------------------------------

TINY = ["-s", "users=120", "-s", "items=60", "-s", "interactions=1500"]


@pytest.fixture()
def toy_plugin() -> object:
    sys.path.insert(0, str(Path(__file__).parents[1] / "toy_plugin"))
    import recaug_toy
    from recaug_core.registry import get_registry

    registry = get_registry()
    registry.register_module(recaug_toy, "toy-test")
    yield
    registry.unregister("toy-test")
    sys.path.pop(0)


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    from recaug_app.cli import invoke

    capsys.readouterr()
    code = invoke(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_baseline_and_augmented_share_the_run_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toy_plugin: object, monkeypatch
) -> None:
    monkeypatch.setenv("RECAUG_PROGRESS", "0")
    out = tmp_path / "run"
    from recaug_app.cli import invoke

    code = invoke(
        ["augment", "demo", *TINY, "--strategy", "toy", "--budget", "200", "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    result = run_json(
        capsys, ["evaluate", "--augmented", str(out), "--backend", "pop", "--k", "5", "--json"]
    )
    split_table = pa.parquet.read_table(out / "split.parquet")
    labels = split_table.column("split").to_pylist()
    assert result["split"]["test"]["rows"] == labels.count("test")
    assert result["split"]["train"]["rows"] == labels.count("train")
    # The same real test users are ranked on both sides, and the synthetic rows changed the
    # popularity counts the `pop` backend ranks by.
    assert result["baseline"]["users"] == result["augmented"]["users"] > 0
    assert set(result) >= {"baseline", "augmented", "change", "split", "timings"}
    assert result["baseline"]["ndcg@5"] != result["augmented"]["ndcg@5"]


def test_each_seed_splits_and_trains_anew_and_the_spread_is_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("RECAUG_PROGRESS", "0")
    argv = ["evaluate", "demo", *TINY, "--backend", "embedding", "-o", "model=bpr"]
    argv += ["-o", "epochs=3", "-o", "dim=8", "--seeds", "2", "--k", "10", "--json"]
    result = run_json(capsys, argv)
    baseline = result["baseline"]
    assert result["split"]["seeds"] == [0, 1]
    assert [s["seed"] for s in result["split"]["per_seed"]] == [0, 1]
    assert len(baseline["per_seed"]) == 2
    first, second = (s["ndcg@10"] for s in baseline["per_seed"])
    assert first != second  # another split and another initialisation
    assert baseline["ndcg@10"] == pytest.approx((first + second) / 2)
    assert baseline["std"]["ndcg@10"] == pytest.approx(abs(first - second) / 2)
    assert baseline["users"] > 0


def test_validation_task_ranks_only_validation_users_with_training_history() -> None:
    train = Dataset(pa.table({"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"]}))
    assert RankingTask.for_validation(train, None) is None
    empty = train.with_interactions(train.interactions.slice(0, 0))
    assert RankingTask.for_validation(train, empty) is None
    unknown = Dataset(pa.table({"user_id": ["z"], "item_id": ["x"]}))  # no training history
    assert RankingTask.for_validation(train, unknown) is None
    valid = Dataset(pa.table({"user_id": ["b", "z"], "item_id": ["y", "y"]}))
    task = RankingTask.for_validation(train, valid)
    assert task is not None
    assert train.user_index.to_ids(task.users).to_pylist() == ["b"]
    ranking = task.rank(lambda users: np.ones((len(users), train.n_items)), 2)
    assert ranking.top.tolist() == [[train.item_index.lookup(["y"])[0], -1]]  # x is masked


def test_scores_given_as_a_torch_tensor_rank_like_numpy_scores() -> None:
    torch = pytest.importorskip("torch")
    split = given_split()
    task = RankingTask.build(split.train, split.test, [split.train, split.valid])
    rng = np.random.default_rng(0)
    table = rng.random((split.train.n_users, split.train.n_items)).astype(np.float32)
    from_numpy = task.rank(lambda users: table[users], 6)
    from_torch = task.rank(lambda users: torch.from_numpy(table[users]), 6)
    assert from_torch.top.tolist() == from_numpy.top.tolist()
    assert (from_torch.top == -1).any()  # masked slots stay empty on the torch path too
    # the backend's tensor is not modified by masking
    tensor = torch.from_numpy(table.copy())
    task.rank(lambda users: tensor[torch.from_numpy(users)], 6)
    assert torch.equal(tensor, torch.from_numpy(table))
