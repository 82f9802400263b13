"""The `vae` strategy and backend: contracts, learning, sampling, resuming from checkpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from recaug_app.evaluate import evaluate_model
from recaug_core import Context, GenerationRequest, OptionsError, split_dataset
from recaug_core.registry import get_registry
from recaug_core.testing import BackendContract, StrategyContract, tiny_split
from recaug_sources.world import demo_world

TINY = {"hidden": 32, "latent": 8, "epochs": 3, "batch_size": 32}


class TestVaeExtendContract(StrategyContract):
    component_name = "vae"
    options: ClassVar[dict[str, Any]] = {**TINY, "per_user": 3}


class TestVaeSynthesizeContract(StrategyContract):
    component_name = "vae"
    options: ClassVar[dict[str, Any]] = {**TINY, "mode": "synthesize", "new_users": 5}
    target = "new"


class TestVaeBackendContract(BackendContract):
    component_name = "vae"
    options: ClassVar[dict[str, Any]] = {**TINY, "epochs": 4}


def context(tmp_path: Path, seed: int = 0, resume: bool = False) -> Context:
    return Context(seed=seed, work_dir=tmp_path, show_progress=False, resume=resume)


def strategy(**options: Any) -> Any:
    return get_registry().get("strategies", "vae")({**TINY, **options})


@pytest.fixture(scope="module")
def small_split() -> Any:
    """A demo world with taste structure: 200 users, 100 items, ~3,000 interactions."""
    return split_dataset(demo_world(n_users=200, n_items=100, n_interactions=3000), seed=0)


def test_registration_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from recaug_core.registry import get_registry\n"
        "get_registry().get('backends', 'vae')({'hidden': 8})\n"
        "get_registry().get('strategies', 'vae')({'mode': 'synthesize'})\n"
        "get_registry().get('strategies', 'gan')({'loss': 'wgan-gp'})\n"
        "assert 'torch' not in sys.modules, 'torch imported at registration'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_backend_learns_more_than_popularity(small_split: Any, tmp_path: Path) -> None:
    ctx = context(tmp_path)
    registry = get_registry()
    pop, _ = evaluate_model(
        registry.get("backends", "pop"), {}, small_split, small_split.train, [10], ctx
    )
    ours, _ = evaluate_model(
        registry.get("backends", "vae"),
        {"hidden": 100, "latent": 32, "epochs": 60, "patience": 10},
        small_split,
        small_split.train,
        [10],
        ctx,
    )
    assert ours.values["ndcg@10"] > 1.2 * pop.values["ndcg@10"]
    assert ours.values["coverage@10"] > pop.values["coverage@10"]


def test_early_stopping_keeps_the_best_epoch(small_split: Any, tmp_path: Path) -> None:
    model = get_registry().get("backends", "vae")(
        {"hidden": 64, "latent": 16, "epochs": 200, "lr": 0.01, "patience": 3}
    )
    model.fit(small_split.train, context(tmp_path), valid=small_split.valid)
    info = model.training_
    assert info["epochs_run"] < 200, "a high learning rate overfits: patience must stop it"
    assert info["epochs_run"] == info["best_epoch"] + 3
    scores = [record["ndcg@10"] for record in info["history"]]
    assert max(scores) == pytest.approx(info["best_valid_ndcg@10"])


def test_beta_is_annealed_to_beta_max(tmp_path: Path) -> None:
    model = get_registry().get("backends", "vae")(
        {**TINY, "epochs": 6, "anneal_steps": 4, "beta_max": 0.3, "patience": 0}
    )
    model.fit(tiny_split().train, context(tmp_path))
    betas = [record["beta"] for record in model.training_["history"]]
    assert betas[0] < 0.3 and betas[-1] == pytest.approx(0.3)


def test_composite_prior_trains_and_differs(tmp_path: Path) -> None:
    split = tiny_split()
    scores = []
    for prior in ("standard", "composite"):
        model = get_registry().get("backends", "vae")(
            {**TINY, "prior": prior, "patience": 0, "beta_max": 1.0, "anneal_steps": 1}
        )
        model.fit(split.train, context(tmp_path / prior))
        assert all(np.isfinite(r["loss"]) for r in model.training_["history"])
        scores.append(model.score(np.arange(5)))
    assert not np.allclose(scores[0], scores[1])


def test_extend_draws_only_unseen_items_and_scores_them(tmp_path: Path) -> None:
    split = tiny_split()
    train = split.train
    vae = strategy(per_user=4)
    ctx = context(tmp_path)
    vae.fit(train, ctx)
    table = vae.generate(train, GenerationRequest(target="all"), ctx)
    users = train.user_index.indices(table.column("user_id"))
    items = train.item_index.indices(table.column("item_id"))
    own = train.interaction_matrix()
    assert own[users, items].sum() == 0, "extend must not repeat a user's own items"
    pairs = set(zip(users.tolist(), items.tolist()))
    assert len(pairs) == table.num_rows, "an item is drawn at most once per user"
    assert np.bincount(users).max() == 4
    assert table.column("parent_user").equals(table.column("user_id"))
    score = np.asarray(table.column("score"))
    assert ((score > 0) & (score < 1)).all()


def test_synthesize_lengths_follow_the_real_ones(tmp_path: Path) -> None:
    split = split_dataset(demo_world(n_users=300, n_items=100, n_interactions=6000), seed=0)
    vae = strategy(mode="synthesize", new_users=400)
    ctx = context(tmp_path)
    vae.fit(split.train, ctx)
    table = vae.generate(split.train, GenerationRequest(target="new"), ctx)
    ids = np.asarray(table.column("user_id"))
    assert all(i.startswith("syn-vae-") for i in ids[:10])
    assert table.column("parent_user").null_count == table.num_rows
    _, lengths = np.unique(ids, return_counts=True)
    real = split.train.user_lengths()
    assert len(lengths) == 400
    assert abs(np.median(lengths) - np.median(real)) <= 0.25 * np.median(real)


def test_synthesize_from_the_posterior_records_the_parent(tmp_path: Path) -> None:
    split = tiny_split()
    vae = strategy(mode="synthesize", latent_from="posterior", new_users=10)
    ctx = context(tmp_path)
    vae.fit(split.train, ctx)
    table = vae.generate(split.train, GenerationRequest(target="new"), ctx)
    assert table.column("parent_user").null_count == 0


def test_budget_fills_with_whole_users_and_one_cut(tmp_path: Path) -> None:
    split = tiny_split()
    vae = strategy(mode="synthesize")
    ctx = context(tmp_path)
    vae.fit(split.train, ctx)
    table = vae.generate(split.train, GenerationRequest(budget=123, target="new"), ctx)
    assert table.num_rows == 123


def test_resume_continues_from_the_last_epoch(tmp_path: Path) -> None:
    """Six epochs stopped after the third, then resumed == six epochs in one go."""
    split = tiny_split()
    whole = strategy(epochs=6)
    whole.fit(split.train, context(tmp_path / "whole"))
    parts = strategy(epochs=6)
    stop_after_three(parts, split.train, tmp_path / "parts")
    checkpoint = tmp_path / "parts/checkpoints/vae/epochs"
    assert sorted(p.name for p in checkpoint.iterdir()) == [
        "epoch-0003.json",
        "epoch-0003.safetensors",
    ]
    parts.fit(split.train, context(tmp_path / "parts", resume=True))
    assert parts.model_.state_dict().keys() == whole.model_.state_dict().keys()
    for key, value in whole.model_.state_dict().items():
        assert np.array_equal(value.numpy(), parts.model_.state_dict()[key].numpy()), key


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path: Path) -> None:
    from recaug_core import RecaugError

    split = tiny_split()
    stop_after_three(strategy(epochs=6), split.train, tmp_path)
    with pytest.raises(RecaugError, match="other settings"):
        strategy(epochs=6, lr=0.01).fit(split.train, context(tmp_path, resume=True))


def stop_after_three(vae: Any, train: Any, folder: Path) -> None:
    """Run ``vae``'s training until its third checkpoint exists, then abandon it."""
    from recaug_vae import training

    class Stop(Exception):
        pass

    original = training.EpochCheckpoints.save

    def save(self: Any, epoch: int, *args: Any) -> None:
        original(self, epoch, *args)
        if epoch == 3:
            raise Stop

    training.EpochCheckpoints.save = save  # type: ignore[method-assign]
    try:
        with pytest.raises(Stop):
            vae.fit(train, context(folder))
    finally:
        training.EpochCheckpoints.save = original  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("options", "word"),
    [
        ({"dropout": 1.0}, "dropout"),
        ({"prior": "flat"}, "prior"),
        ({"mode": "copy"}, "mode"),
        ({"beta_max": -1}, "beta_max"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, Any], word: str) -> None:
    with pytest.raises(OptionsError, match=word):
        get_registry().get("strategies", "vae")(options)


def test_extend_for_new_users_is_refused(tmp_path: Path) -> None:
    from recaug_core import RecaugError

    vae = strategy(mode="extend")
    split = tiny_split()
    vae.fit(split.train, context(tmp_path))
    with pytest.raises(RecaugError, match="mode=extend"):
        vae.generate(split.train, GenerationRequest(target="new"), context(tmp_path))


def test_synthesize_redraws_copies_of_real_users() -> None:
    """Probabilities that nearly force a real user's item set still yield no copy of it."""
    import scipy.sparse as sp

    from recaug_modelkit import generation

    real = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32))
    probs = np.array([0.45, 0.45, 0.05, 0.05])
    users, items, _, _ = generation.synthesize(
        lambda start, n: (np.tile(probs, (n, 1)), None),
        np.full(200, 2),
        None,
        np.random.default_rng(0),
        real,
    )
    sets = {}
    for user, item in zip(users.tolist(), items.tolist()):
        sets.setdefault(user, set()).add(item)
    assert len(sets) > 150, "most users still get two items"
    assert {0, 1} not in sets.values()
    assert all(len(s) == 2 for s in sets.values())


def test_resume_after_training_loads_the_saved_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed during generation does not train again on --resume."""
    from recaug_vae import training

    split = tiny_split()
    first = strategy()
    first.fit(split.train, context(tmp_path))

    def no_training(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("trained again instead of loading model.safetensors")

    monkeypatch.setattr(training, "fit_vae", no_training)
    again = strategy()
    again.fit(split.train, context(tmp_path, resume=True))
    for key, value in first.model_.state_dict().items():
        assert np.array_equal(value.numpy(), again.model_.state_dict()[key].numpy()), key
    request = GenerationRequest(budget=50, target="new")
    assert first.generate(split.train, request, context(tmp_path)).equals(
        again.generate(split.train, request, context(tmp_path))
    )


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_resume_with_validation_keeps_the_same_best_epoch(name: str, tmp_path: Path) -> None:
    """A generator validating on held-back training rows, interrupted after its fifth epoch
    (its best was the fourth) and resumed, stops where an uninterrupted fit stops and keeps
    the weights it keeps."""
    import importlib

    train = split_dataset(demo_world(n_users=1600, n_items=100, n_interactions=16000), seed=0)
    options: dict[str, Any] = {"patience": 2, "valid_share": 0.3, "lr": 0.05}
    options |= TINY if name == "vae" else {"hidden_g": 32, "hidden_d": 16, "batch_size": 64}
    options["epochs"] = 8
    build = get_registry().get("strategies", name)
    whole = build(options)
    whole.fit(train.train, context(tmp_path / "whole"))
    config = (tmp_path / f"whole/checkpoints/{name}/config.json").read_text()
    assert not (tmp_path / f"whole/checkpoints/{name}/epochs").exists() or not list(
        (tmp_path / f"whole/checkpoints/{name}/epochs").iterdir()
    ), "the epoch checkpoint outlived the saved model"
    assert "valid_share" in config

    training = importlib.import_module(f"recaug_{name}.training")
    parts = build(options)
    original = training.EpochCheckpoints.save

    class Stop(Exception):
        pass

    def save(self: Any, epoch: int, tensors: Any, state: Any) -> None:
        original(self, epoch, tensors, state)
        scores = [row["ndcg@10"] for row in state["history"]]  # KeyError: no validation
        if epoch == 5:
            assert np.argmax(scores) + 1 < 5, "the kept weights must be an earlier epoch's"
            raise Stop

    training.EpochCheckpoints.save = save  # type: ignore[method-assign]
    try:
        with pytest.raises(Stop):
            parts.fit(train.train, context(tmp_path / "parts"))
    finally:
        training.EpochCheckpoints.save = original  # type: ignore[method-assign]
    parts.fit(train.train, context(tmp_path / "parts", resume=True))
    ours = parts.model_
    theirs = whole.model_
    for key, value in theirs.state_dict().items():
        assert np.array_equal(value.numpy(), ours.state_dict()[key].numpy()), key
