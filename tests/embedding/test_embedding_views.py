"""LightGCN's contrastive views (SGL, SimGCL, XSimGCL): the losses against hand-computed
cases, weight 0 reproducing plain LightGCN, the options, and the merge policy ``view``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import torch

from recaug_core import (
    Context,
    MergePolicy,
    OptionsError,
    RecaugError,
    split_dataset,
    synthetic_table,
)
from recaug_core.merge import merged_training_set
from recaug_core.registry import get_registry
from recaug_core.testing import contract_synthetic_rows, tiny_split
from recaug_sources.world import demo_world

FAST = {"dim": 16, "epochs": 4, "batch_size": 256, "negatives": 2}
VIEWS = ["sgl", "simgcl", "xsimgcl"]


def backend(**options: Any) -> Any:
    return get_registry().get("backends", "embedding")({**FAST, **options})


def context(tmp_path: Path, merge: str | None = None) -> Context:
    ctx = Context(seed=0, work_dir=tmp_path, show_progress=False)
    ctx.merge = None if merge is None else MergePolicy.parse(merge)
    return ctx


@pytest.fixture(scope="module")
def small_split() -> Any:
    return split_dataset(demo_world(n_users=120, n_items=60, n_interactions=1500), seed=0)


def augmented(split: Any) -> Any:
    """The training rows plus synthetic rows for ten real users and two new ones."""
    rows = contract_synthetic_rows(split)
    return split.train.with_interactions(
        pa.concat_tables([split.train.interactions, rows]), extend_users=True
    )


def fitted_vectors(
    split: Any, tmp_path: Path, merge: str | None = None, train: Any = None, **options: Any
) -> Any:
    train = split.train if train is None else train
    if merge is not None:
        train = merged_training_set(split.train, augmented(split), MergePolicy.parse(merge))
    model = backend(**options)
    model.fit(train, context(tmp_path, merge), valid=split.valid)
    return model


# -- the losses, by hand --------------------------------------------------------------------------


def test_info_nce_matches_a_hand_computed_case() -> None:
    from recaug_embedding.views import info_nce

    first = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # unit rows (1, 0) and (0, 1) once normalised
    second = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # (1, 0) and (1, 1) / sqrt(2)
    # cosines / 0.5: row 0 -> [2, sqrt 2] (partner first), row 1 -> [0, sqrt 2] (partner second)
    r = math.sqrt(2)
    row0 = -math.log(math.exp(2) / (math.exp(2) + math.exp(r)))
    row1 = -math.log(math.exp(r) / (math.exp(0) + math.exp(r)))
    assert info_nce(first, second, 0.5).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)
    assert (row0 + row1) / 2 == pytest.approx(0.33009, abs=1e-5)


def test_grouped_info_nce_uses_groups_of_at_most_the_batch() -> None:
    from recaug_embedding.views import grouped_info_nce

    # four orthonormal nodes, the same in both views: in a group of m, each row's loss is
    # -log(e^(1/t) / (e^(1/t) + (m - 1))) = log(1 + (m - 1) e^(-1/t)), whatever the grouping
    views = torch.eye(4)
    nodes = torch.arange(4)
    t = 0.5
    gen = torch.Generator().manual_seed(0)
    one_group = grouped_info_nce(views, views, nodes, t, 4, gen).item()
    two_groups = grouped_info_nce(views, views, nodes, t, 2, gen).item()
    assert one_group == pytest.approx(math.log(1 + 3 * math.exp(-1 / t)), rel=1e-6)
    assert two_groups == pytest.approx(math.log(1 + math.exp(-1 / t)), rel=1e-6)
    # 5 nodes in groups of at most 4: two groups (3 + 2), never a lone node without negatives
    five = grouped_info_nce(torch.eye(5), torch.eye(5), torch.arange(5), t, 4, gen).item()
    expected = (3 * math.log(1 + 2 * math.exp(-1 / t)) + 2 * math.log(1 + math.exp(-1 / t))) / 5
    assert five == pytest.approx(expected, rel=1e-6)


def test_noise_has_length_eps_in_each_rows_orthant() -> None:
    from recaug_embedding.views import perturb

    x = torch.tensor([[1.0, -2.0, 0.5], [-0.1, 0.3, -4.0]])
    out = perturb(x, 0.2, torch.Generator().manual_seed(1))
    delta = out - x
    np.testing.assert_allclose(delta.norm(dim=1).numpy(), [0.2, 0.2], rtol=1e-5)
    assert torch.equal(torch.sign(delta), torch.sign(x))
    assert torch.equal(perturb(x, 0.0, torch.Generator()), x)


def tiny_graph() -> tuple[Any, Any, np.ndarray]:
    """A LightGCN model on 3 users x 4 items and its dense normalised adjacency."""
    from recaug_embedding.model import EmbeddingModel
    from recaug_embedding.views import Edges

    users = np.array([0, 0, 1, 1, 2, 2, 2])
    items = np.array([0, 1, 1, 2, 0, 2, 3])
    edges = Edges(users, items, None, 3, 4)
    model = EmbeddingModel(3, 4, 3, 2, edges.propagator(), torch.Generator().manual_seed(0), 1.0)
    r = np.zeros((3, 4))
    r[users, items] = 1
    a = np.block([[np.zeros((3, 3)), r], [r.T, np.zeros((4, 4))]])
    d = 1 / np.sqrt(a.sum(axis=1))
    return model, edges, d[:, None] * a * d[None, :]


def numpy_info_nce(a: np.ndarray, b: np.ndarray, t: float) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = a @ b.T / t
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.diag(log_softmax).mean())


@pytest.mark.parametrize("skip_ego", [False, True])
@pytest.mark.parametrize("kind", VIEWS)
def test_each_views_loss_matches_a_dense_reference(kind: str, skip_ego: bool) -> None:
    """Without noise or dropped edges each view's term is a closed form of the dense graph:
    SGL and SimGCL contrast two identical views, XSimGCL the mean over hops 1..L with hop 1;
    BPR scores the mean over hops 0..L, or 1..L with ``skip_ego`` (the authors' encoder)."""
    from recaug_embedding.views import GraphViews, ViewSettings

    model, edges, a = tiny_graph()
    model.skip_ego = skip_ego
    settings = ViewSettings(kind, 0.7, 0.3, noise=0.0, drop=0.0, layer=1, group=64)
    views = GraphViews(settings, edges, None, model.propagator, torch.Generator())
    views.new_epoch()
    ego = model.ego()
    users, positives = torch.tensor([0, 2, 2]), torch.tensor([1, 3, 0])
    final, term = views.encode(model, ego, users, positives)

    e0 = ego.detach().double().numpy()
    e1, e2 = a @ e0, a @ a @ e0
    mean = (e0 + e1 + e2) / 3
    scored = (e1 + e2) / 2 if skip_ego else mean
    np.testing.assert_allclose(final.detach().numpy(), scored, rtol=1e-5, atol=1e-6)
    first, second = {
        "sgl": (mean, mean),
        "simgcl": ((e1 + e2) / 2, (e1 + e2) / 2),
        "xsimgcl": ((e1 + e2) / 2, e1),
    }[kind]
    user_rows, item_rows = [0, 2], [3 + 0, 3 + 1, 3 + 3]  # distinct users; items after users
    expected = numpy_info_nce(first[user_rows], second[user_rows], 0.3) + numpy_info_nce(
        first[item_rows], second[item_rows], 0.3
    )
    assert term.item() == pytest.approx(0.7 * expected, rel=1e-5)


def test_sgl_drops_edges_per_epoch() -> None:
    from recaug_embedding.views import GraphViews, ViewSettings

    model, edges, _ = tiny_graph()
    settings = ViewSettings("sgl", 1.0, 0.2, noise=0.0, drop=0.5, layer=1, group=64)
    views = GraphViews(settings, edges, None, model.propagator, torch.Generator().manual_seed(3))
    kept = []
    for _ in range(4):
        views.new_epoch()
        assert views.subgraphs is not None
        kept.append(tuple(view.adjacency.nnz // 2 for view in views.subgraphs))
    assert all(n <= len(edges.users) for pair in kept for n in pair)
    assert len(set(kept)) > 1, "each epoch draws new subgraphs"


# -- through the backend -------------------------------------------------------------------------


def test_plain_lightgcn_is_unchanged(small_split: Any, tmp_path: Path) -> None:
    model = fitted_vectors(small_split, tmp_path)
    assert "extra" not in model.training_["history"][0]


@pytest.mark.parametrize("kind", VIEWS)
def test_zero_weight_and_noise_reproduce_plain_lightgcn(
    kind: str, small_split: Any, tmp_path: Path
) -> None:
    # with the same encoder: simgcl and xsimgcl score hops 1..L by default (skip_ego)
    zero = fitted_vectors(small_split, tmp_path / kind, views=kind, view_weight=0.0, view_noise=0.0)
    skip_ego = zero.options.skip_ego
    assert skip_ego == (kind != "sgl")
    plain = fitted_vectors(small_split, tmp_path / "plain", skip_ego=skip_ego)
    np.testing.assert_array_equal(zero.user_vectors_, plain.user_vectors_)
    np.testing.assert_array_equal(zero.item_vectors_, plain.item_vectors_)
    assert all(row["extra"] == 0 for row in zero.training_["history"])


@pytest.mark.parametrize("kind", VIEWS)
def test_a_view_changes_what_is_learnt_and_records_its_term(
    kind: str, small_split: Any, tmp_path: Path
) -> None:
    plain = fitted_vectors(small_split, tmp_path / "plain")
    viewed = fitted_vectors(small_split, tmp_path / kind, views=kind)
    assert not np.allclose(viewed.item_vectors_, plain.item_vectors_, atol=1e-4)
    assert all(row["extra"] > 0 for row in viewed.training_["history"])
    again = fitted_vectors(small_split, tmp_path / "again", views=kind)
    np.testing.assert_array_equal(again.item_vectors_, viewed.item_vectors_)  # seeded


def test_skip_ego_scores_without_the_layer_0_vectors(small_split: Any, tmp_path: Path) -> None:
    plain = fitted_vectors(small_split, tmp_path / "plain", epochs=1)
    skipped = fitted_vectors(small_split, tmp_path / "skip", epochs=1, skip_ego=True)
    assert not np.allclose(skipped.item_vectors_, plain.item_vectors_, atol=1e-4)
    zero = fitted_vectors(
        small_split, tmp_path / "zero", epochs=1, skip_ego=True, views="simgcl", view_weight=0.0
    )
    np.testing.assert_array_equal(zero.item_vectors_, skipped.item_vectors_)


def test_xsimgcl_noise_alone_changes_the_fit(small_split: Any, tmp_path: Path) -> None:
    # XSimGCL's loss is scored from the perturbed pass itself: noise without a contrastive
    # weight is still a different model (SimGCL's noise only enters its views)
    plain = fitted_vectors(small_split, tmp_path / "plain")
    noisy = fitted_vectors(small_split, tmp_path / "x", views="xsimgcl", view_weight=0.0)
    assert not np.allclose(noisy.item_vectors_, plain.item_vectors_, atol=1e-4)


def test_each_view_takes_its_published_defaults() -> None:
    sgl = backend(views="sgl").options
    assert (sgl.view_weight, sgl.view_temperature, sgl.view_drop) == (0.1, 0.2, 0.1)
    simgcl = backend(views="simgcl").options
    assert (simgcl.view_weight, simgcl.view_temperature, simgcl.view_noise) == (0.5, 0.2, 0.1)
    xsimgcl = backend(views="xsimgcl", view_weight=0.05).options
    assert (xsimgcl.view_weight, xsimgcl.view_noise, xsimgcl.view_layer) == (0.05, 0.2, 1)
    assert xsimgcl.view_temperature == 0.15
    # the encoder each was published with: SimGCL's and XSimGCL's code leaves out layer 0
    assert (sgl.skip_ego, simgcl.skip_ego, xsimgcl.skip_ego) == (False, True, True)
    assert backend(views="xsimgcl", skip_ego=False).options.skip_ego is False


@pytest.mark.parametrize(
    "options, words",
    [
        ({"views": "simgcl", "model": "bpr"}, "needs model=lightgcn"),
        ({"views": "xsimgcl", "view_layer": 3}, "past the last hop"),
        ({"skip_ego": True, "model": "bpr"}, "skip_ego needs model=lightgcn"),
        ({"views": "dropout"}, "views"),
        ({"views": "sgl", "view_drop": 1.0}, "view_drop"),
        ({"views": "simgcl", "view_temperature": 0}, "view_temperature"),
    ],
)
def test_bad_view_options_name_the_option(options: dict[str, Any], words: str) -> None:
    with pytest.raises(OptionsError, match=words):
        backend(**options)


# -- the merge policy ``view`` -------------------------------------------------------------------


def test_view_policy_needs_a_view(tmp_path: Path) -> None:
    with pytest.raises(RecaugError, match="views=sgl, simgcl or xsimgcl"):
        fitted_vectors(tiny_split(), tmp_path, merge="view")


@pytest.mark.parametrize("kind", VIEWS)
def test_view_policy_keeps_synthetic_rows_out_of_the_labels(kind: str, tmp_path: Path) -> None:
    split = tiny_split()
    # the real rows alone, on the augmented indexes (synthetic users are nodes without edges)
    real = augmented(split).real()
    # at weight 0 the views' graph cannot matter: exactly plain LightGCN (with the view's
    # encoder) on the real rows
    silent = fitted_vectors(
        split, tmp_path / "silent", merge="view", views=kind, view_weight=0.0, view_noise=0.0
    )
    plain = fitted_vectors(split, tmp_path / "plain", train=real, skip_ego=kind != "sgl")
    np.testing.assert_array_equal(silent.item_vectors_, plain.item_vectors_)
    np.testing.assert_array_equal(silent.user_vectors_, plain.user_vectors_)
    # with weight, the synthetic edges shape the second view: not the real-only view fit
    real_only = fitted_vectors(split, tmp_path / "real", train=real, views=kind)
    viewed = fitted_vectors(split, tmp_path / "viewed", merge="view", views=kind)
    assert not np.allclose(viewed.item_vectors_, real_only.item_vectors_, atol=1e-5)


def test_other_backends_refuse_the_view_policy(tmp_path: Path) -> None:
    from recaug_core.merge import check_supported

    with pytest.raises(RecaugError, match="cannot honour merge policy 'view'"):
        check_supported(get_registry().get("backends", "pop"), MergePolicy.parse("view"))


def test_view_policy_is_a_phase_of_real_rows_with_the_augmented_graph() -> None:
    from recaug_core import training_phases

    split = tiny_split()
    rows = synthetic_table(["syn-1", "syn-1"], split.train.item_index.ids.to_pylist()[:2], "x")
    augmented = split.train.with_interactions(
        pa.concat_tables([split.train.interactions, rows]), extend_users=True
    )
    (phase,) = training_phases(augmented, MergePolicy.parse("view"))
    assert len(phase.data) == len(split.train) and phase.view_data is augmented
    (alone,) = training_phases(split.train, MergePolicy.parse("view"))
    assert alone.view_data is None  # nothing synthetic: a plain phase


def test_the_graph_views_experiment_file_reads(tmp_path: Path) -> None:
    from recaug_app.experiment_file import load_experiment

    path = Path(__file__).parents[2] / "examples" / "experiments" / "graph-views.toml"
    experiment = load_experiment(path, data_ref="demo")
    views = {arm.name: arm.backend_options["lightgcn"]["views"] for arm in experiment.arms}
    assert views == {"sgl": "sgl", "simgcl": "simgcl", "xsimgcl": "xsimgcl"}
    assert all(arm.settings is None for arm in experiment.arms)  # no strategy: no rows
