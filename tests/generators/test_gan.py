"""The `gan` strategy (CFGAN): contracts, a generator that really learns adversarially."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from recaug_core import Context, GenerationRequest, OptionsError
from recaug_core.registry import get_registry
from recaug_core.testing import StrategyContract, tiny_split
from recaug_sources.world import demo_world

TINY = {"hidden_g": 32, "hidden_d": 16, "epochs": 3, "batch_size": 16}


class TestGanExtendContract(StrategyContract):
    component_name = "gan"
    options: ClassVar[dict[str, Any]] = {**TINY, "per_user": 3, "loss": "gan"}


class TestGanSynthesizeContract(StrategyContract):
    component_name = "gan"
    options: ClassVar[dict[str, Any]] = {**TINY, "mode": "synthesize", "loss": "wgan-gp"}
    target = "new"


def context(tmp_path: Path, seed: int = 0) -> Context:
    return Context(seed=seed, work_dir=tmp_path, show_progress=False)


def strategy(**options: Any) -> Any:
    return get_registry().get("strategies", "gan")({**TINY, **options})


def batch() -> Any:
    from recaug_gan.model import Batch
    from recaug_modelkit.rows import candidate_items, sparse_rows

    rows = sparse_rows(tiny_split().train.interaction_matrix(), np.arange(16))
    columns = candidate_items(rows, 0, torch.Generator())
    return Batch(rows, rows.dense(columns), columns)


@pytest.mark.parametrize("loss", ["gan", "wgan-gp"])
def test_adversarial_gradient_reaches_the_generator(loss: str) -> None:
    """The adversarial term alone moves the generator (not only the ZR term)."""
    from recaug_gan.model import generator_losses, negative_masks
    from recaug_gan.options import GanTrainingOptions
    from recaug_gan.training import build

    users = batch()
    real = users.real
    gen_net, disc_net = build(real.shape[1], GanTrainingOptions(hidden_g=16, hidden_d=8), 0)
    pm, zr = negative_masks(real, 0.7, 0.7, torch.rand((2, *real.shape)))
    adversarial, reconstruction = generator_losses(gen_net, disc_net, users, pm, zr, loss)
    adversarial.backward()
    grads = [p.grad for p in gen_net.parameters()]
    assert all(g is not None and g.to_dense().abs().sum() > 0 for g in grads)
    assert reconstruction.requires_grad and reconstruction > 0


def test_zr_pushes_unpurchased_outputs_down(tmp_path: Path) -> None:
    split = tiny_split()
    outputs = {}
    for weight in (0.0, 1.0):
        gan = strategy(zr_weight=weight, zr_ratio=1.0, epochs=10, lr=0.01)
        gan.fit(split.train, context(tmp_path / str(weight)))
        outputs[weight] = gan._outputs(np.arange(20))
    unpurchased = split.train.interaction_matrix()[:20].toarray() == 0
    assert outputs[1.0][unpurchased].mean() < 0.7 * outputs[0.0][unpurchased].mean()


def test_generator_learns_users_tastes(tmp_path: Path) -> None:
    """Ranking a user's unseen items by the generator's output beats popularity on test
    data, and the user's own items get high outputs."""
    from recaug_core import RankingTask, ranking_means, split_dataset

    split = split_dataset(demo_world(n_users=200, n_items=100, n_interactions=3000), seed=0)
    matrix = split.train.interaction_matrix()
    gan = strategy(hidden_g=64, hidden_d=32, batch_size=32, epochs=30, lr=0.003)
    gan.fit(split.train, context(tmp_path))
    task = RankingTask.build(split.train, split.test, [split.train, split.valid])
    popularity = np.asarray(matrix.sum(axis=0), dtype=np.float32).ravel()

    def ndcg(score: Any) -> float:
        return ranking_means(task.rank(score, 10), task.n_items, [10])["ndcg@10"]

    assert ndcg(gan._outputs) > 1.2 * ndcg(lambda rows: np.tile(popularity, (len(rows), 1)))
    out = gan._outputs(np.arange(matrix.shape[0]))
    bought = matrix.toarray() > 0
    assert out[bought].mean() > 3 * out[~bought].mean()


def test_synthesize_records_the_parent_and_fills_the_budget(tmp_path: Path) -> None:
    split = tiny_split()
    gan = strategy(mode="synthesize")
    ctx = context(tmp_path)
    gan.fit(split.train, ctx)
    table = gan.generate(split.train, GenerationRequest(budget=150, target="new"), ctx)
    assert table.num_rows == 150
    assert table.column("parent_user").null_count == 0
    ids = np.asarray(table.column("user_id"))
    assert all(i.startswith("syn-gan-") for i in ids)
    pairs = set(zip(ids.tolist(), np.asarray(table.column("item_id")).tolist()))
    assert len(pairs) == table.num_rows, "a synthetic user gets each item once"


def test_long_tail_target_draws_tail_items_only(tmp_path: Path) -> None:
    from recaug_core import tail_items

    split = tiny_split()
    gan = strategy()
    ctx = context(tmp_path)
    gan.fit(split.train, ctx)
    table = gan.generate(split.train, GenerationRequest(target="long-tail"), ctx)
    items = split.train.item_index.indices(table.column("item_id"))
    assert table.num_rows > 0 and tail_items(split.train)[items].all()


@pytest.mark.parametrize(
    ("options", "word"),
    [({"pm_ratio": 1.5}, "pm_ratio"), ({"loss": "hinge"}, "loss"), ({"zr_weight": -1}, "zr")],
)
def test_bad_options_name_the_option(options: dict[str, Any], word: str) -> None:
    with pytest.raises(OptionsError, match=word):
        get_registry().get("strategies", "gan")(options)
