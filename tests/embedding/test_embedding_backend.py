"""The `embedding` backend: contract, learning, early stopping, saving, the sparse operator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp

from recaug_app.evaluate import evaluate_model
from recaug_core import (
    Context,
    OptionsError,
    RankingTask,
    RecaugError,
    ranking_means,
    split_dataset,
)
from recaug_core.registry import get_registry
from recaug_core.testing import BackendContract, tiny_split
from recaug_sources.world import demo_world

FAST = {"dim": 16, "epochs": 4, "batch_size": 256, "negatives": 2}


class TestLightGCNContract(BackendContract):
    component_name = "embedding"
    options: ClassVar[dict[str, Any]] = FAST


class TestBPRContract(BackendContract):
    component_name = "embedding"
    options: ClassVar[dict[str, Any]] = {**FAST, "model": "bpr"}


def backend_class() -> type:
    return get_registry().get("backends", "embedding")


def context(tmp_path: Path, seed: int = 0, **kwargs: object) -> Context:
    return Context(seed=seed, work_dir=tmp_path, show_progress=False, **kwargs)


@pytest.fixture(scope="module")
def small_split() -> object:
    """A demo world with taste structure: 200 users, 100 items, ~3,000 interactions."""
    return split_dataset(demo_world(n_users=200, n_items=100, n_interactions=3000), seed=0)


def test_plugin_registration_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from recaug_core.registry import get_registry\n"
        "cls = get_registry().get('backends', 'embedding')\n"
        "cls({'model': 'bpr'})\n"
        "assert 'torch' not in sys.modules, 'torch imported at registration'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("model", ["bpr", "lightgcn"])
def test_learns_more_than_popularity(model: str, small_split: object, tmp_path: Path) -> None:
    ctx = context(tmp_path)
    pop, _ = evaluate_model(
        get_registry().get("backends", "pop"), {}, small_split, small_split.train, [10], ctx
    )
    ours, _ = evaluate_model(
        backend_class(), {"model": model}, small_split, small_split.train, [10], ctx
    )
    assert ours.values["ndcg@10"] > 1.2 * pop.values["ndcg@10"]
    assert ours.values["coverage@10"] > pop.values["coverage@10"]


def test_early_stopping_keeps_the_best_epoch(small_split: object, tmp_path: Path) -> None:
    model = backend_class()({"model": "bpr", "lr": 0.2, "epochs": 60, "patience": 3})
    model.fit(small_split.train, context(tmp_path), valid=small_split.valid)
    info = model.training_
    assert info["epochs_run"] < 60, "a high learning rate overfits: patience must stop it"
    assert info["epochs_run"] == info["best_epoch"] + 3
    scores = [record["ndcg@10"] for record in info["history"]]
    assert info["best_valid_ndcg@10"] == max(scores)
    # The kept weights are the best epoch's, not the last epoch's.
    task = RankingTask.build(small_split.train, small_split.valid, [small_split.train])
    kept = ranking_means(task.rank(model.score, 10), small_split.train.n_items, [10])
    assert kept["ndcg@10"] == pytest.approx(max(scores), abs=1e-6)
    assert scores[-1] < max(scores)


def test_without_validation_trains_every_epoch(tmp_path: Path) -> None:
    split = tiny_split()
    model = backend_class()({**FAST, "epochs": 3})
    model.fit(split.train, context(tmp_path), valid=None)
    assert model.training_["epochs_run"] == 3 and model.training_["best_valid_ndcg@10"] is None


def test_seed_option_overrides_the_run_seed(tmp_path: Path) -> None:
    split = tiny_split()

    def scores(run_seed: int, **options: object) -> np.ndarray:
        model = backend_class()({**FAST, **options})
        model.fit(split.train, context(tmp_path / str(run_seed), run_seed), valid=split.valid)
        return model.score(np.arange(5))

    np.testing.assert_array_equal(scores(0, seed=7), scores(1, seed=7))
    assert not np.allclose(scores(0), scores(1))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    split = tiny_split()
    model = backend_class()(FAST)
    model.fit(split.train, context(tmp_path), valid=split.valid)
    folder = model.save(tmp_path / "saved")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["options"]["dim"] == 16
    assert config["item_ids"] == split.train.item_index.ids.to_pylist()
    again = backend_class().load(folder)
    users = np.arange(6)
    np.testing.assert_array_equal(again.score(users), model.score(users))
    np.testing.assert_array_equal(again.recommend(users, 5), model.recommend(users, 5))


def test_load_refuses_what_it_did_not_write(tmp_path: Path) -> None:
    with pytest.raises(RecaugError, match="no such file"):
        backend_class().load(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "something-else"}')
    with pytest.raises(RecaugError, match="not a 'recaug-embedding'"):
        backend_class().load(tmp_path)


def test_save_dir_option_names_folders_by_kind_and_seed(tmp_path: Path) -> None:
    split = tiny_split()
    model = backend_class()({**FAST, "save_dir": str(tmp_path / "models")})
    model.fit(split.train, context(tmp_path, seed=3), valid=split.valid)
    assert (tmp_path / "models" / "baseline-seed3" / "model.safetensors").is_file()


def test_cli_with_bf16_mixed_precision(tmp_path: Path) -> None:
    # Accelerate allows one precision per process, hence a process of its own.
    recaug = Path(sys.executable).with_name("recaug")
    command = [str(recaug), "evaluate", "demo", "-s", "users=120", "-s", "items=60"]
    command += ["-o", "epochs=3", "-o", "dim=8", "--mixed-precision", "bf16", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["backend"]["name"] == "embedding"  # the default backend
    assert 0 < result["baseline"]["ndcg@10"] <= 1


@pytest.mark.parametrize(
    "options, word",
    [({"model": "svd"}, "model"), ({"dim": 0}, "dim"), ({"negatives": -1}, "negatives")],
)
def test_bad_options_name_the_option(options: dict, word: str) -> None:
    with pytest.raises(OptionsError, match=word):
        backend_class()(options)


# -- the pieces ---------------------------------------------------------------------------------


def random_interactions(seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((7, 9)) < 0.3).astype(np.float32)
    dense[0] = 0  # an isolated user
    return sp.csr_matrix(dense)


def test_normalized_adjacency_is_symmetric_and_scaled_by_degrees() -> None:
    from recaug_embedding.graph import normalized_adjacency

    matrix = random_interactions()
    adjacency = normalized_adjacency(matrix).toarray()
    np.testing.assert_allclose(adjacency, adjacency.T)
    user_degree = np.asarray(matrix.sum(axis=1)).ravel()
    item_degree = np.asarray(matrix.sum(axis=0)).ravel()
    u, i = np.argwhere(matrix.toarray())[0]
    expected = 1 / np.sqrt(user_degree[u] * item_degree[i])
    assert adjacency[u, 7 + i] == pytest.approx(expected)
    assert not adjacency[0].any()  # the isolated user stays isolated, no division by zero


def test_propagation_gradient_equals_dense_autograd() -> None:
    import torch

    from recaug_embedding.graph import Propagator, normalized_adjacency

    adjacency = normalized_adjacency(random_interactions())
    dense = torch.from_numpy(adjacency.toarray())
    x = torch.randn(16, 5, dtype=torch.float32, requires_grad=True)
    weight = torch.randn(16, 5)
    propagator = Propagator(adjacency)
    (propagator.apply(propagator.apply(x)) * weight).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    (dense @ (dense @ x) * weight).sum().backward()
    torch.testing.assert_close(ours, x.grad, rtol=1e-5, atol=1e-6)


def test_lightgcn_on_a_device_without_sparse_kernels_says_how_to_run_it() -> None:
    import torch

    from recaug_core import RecaugError
    from recaug_embedding.graph import Propagator, normalized_adjacency

    propagator = Propagator(normalized_adjacency(random_interactions(1)))
    with pytest.raises(RecaugError, match=r"ACCELERATE_USE_CPU=1.*model=bpr"):
        propagator.apply(torch.zeros(16, 4, device="meta"))  # "meta": like mps, no CSR kernels


def test_negative_sampler_avoids_each_users_positives() -> None:
    import torch

    from recaug_embedding import sampling

    matrix = random_interactions(1)
    users, items = matrix.nonzero()
    for limit in (sampling.DENSE_MASK_LIMIT, 0):  # flag table, then binary search
        sampling_limit = sampling.DENSE_MASK_LIMIT
        sampling.DENSE_MASK_LIMIT = limit
        try:
            sampler = sampling.NegativeSampler(users, items, 7, 9)
        finally:
            sampling.DENSE_MASK_LIMIT = sampling_limit
        owners = torch.arange(7).repeat_interleave(50)
        negatives = sampler.sample(owners, 4, torch.Generator().manual_seed(0))
        assert negatives.shape == (350, 4)
        clash = matrix.toarray()[owners.numpy()[:, None], negatives.numpy()]
        assert clash.sum() == 0


def test_pair_scores_are_the_dot_products_of_each_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from recaug_embedding import pairs

    users_v, items_v = torch.randn(5, 3), torch.randn(8, 3)
    users = torch.tensor([0, 4, 4, 2])
    positives = torch.tensor([1, 7, 0, 3])
    negatives = torch.tensor([[2, 5], [1, 1], [6, 0], [7, 4]])  # user 4 draws item 1 twice
    expected_positive = torch.stack([users_v[u] @ items_v[i] for u, i in zip(users, positives)])
    for sparse_devices in (pairs.SPARSE_DEVICES, frozenset()):  # sparse kernels; gathered
        monkeypatch.setattr(pairs, "SPARSE_DEVICES", sparse_devices)
        positive, negative = pairs.pair_scores(users_v, items_v, users, positives, negatives)
        torch.testing.assert_close(positive, expected_positive)
        torch.testing.assert_close(negative[1, 1], users_v[4] @ items_v[1])
        torch.testing.assert_close(negative[3, 1], users_v[2] @ items_v[4])


def test_pair_score_gradients_add_up_over_repeated_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Repeated users, items and whole pairs: their gradients must add up, not overwrite
    # each other, exactly as autograd through plain gathers (the fallback) computes them.
    import torch

    from recaug_embedding import pairs

    users = torch.tensor([0, 4, 4, 2, 4])
    positives = torch.tensor([1, 7, 7, 3, 1])
    negatives = torch.tensor([[2, 5], [1, 1], [6, 0], [7, 4], [1, 2]])

    def gradients(sparse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        users_v = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
        items_v = torch.randn(8, 3, generator=torch.Generator().manual_seed(2))
        users_v.requires_grad_(True)
        items_v.requires_grad_(True)
        monkeypatch.setattr(pairs, "SPARSE_DEVICES", frozenset({"cpu"} if sparse else ()))
        positive, negative = pairs.pair_scores(users_v, items_v, users, positives, negatives)
        weights = torch.arange(1.0, 11.0).view(5, 2)  # every draw counts differently
        (torch.nn.functional.softplus(negative - positive[:, None]) * weights).sum().backward()
        assert users_v.grad is not None and items_v.grad is not None
        return users_v.grad, items_v.grad

    sparse, reference = gradients(sparse=True), gradients(sparse=False)
    torch.testing.assert_close(sparse[0], reference[0])
    torch.testing.assert_close(sparse[1], reference[1])
