"""plausibility: ranks among all items, which direction it keeps, and backend reuse."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from recaug_core import Context, OptionsError, Recommender, hookimpl, synthetic_table
from recaug_core.registry import create, get_registry
from recaug_filters.plausibility import rank_percentiles


class ItemOrderBackend(Recommender):
    """User u likes item (u + k) mod n_items k-th best: known scores, one per user."""

    name = "item-order-test"
    description = "Test backend with a known ranking per user."
    fits = 0

    def fit(self, train, ctx, valid=None):
        type(self).fits += 1
        self.n_items = train.n_items

    def score(self, users):
        items = np.arange(self.n_items)
        position = (items[None, :] - np.asarray(users)[:, None]) % self.n_items
        return -position.astype(np.float32)


class ItemOrderPlugin:
    @hookimpl
    def register_backends(self, register):
        register(ItemOrderBackend)


@pytest.fixture
def item_order():
    registry = get_registry()
    registry.register_module(ItemOrderPlugin(), "item-order-test")
    yield ItemOrderBackend
    registry.unregister("item-order-test")


def rows_at_positions(train, user: int, positions: list[int]):
    """Synthetic rows giving real user ``user`` its item ranked ``positions``."""
    items = [(user + p) % train.n_items for p in positions]
    user_id = train.user_index.to_ids([user])[0].as_py()
    return synthetic_table(
        [user_id] * len(items), train.item_index.to_ids(items), "test", parent_user=None
    )


class FixedScores:
    def __init__(self, scores):
        self.scores = scores

    def score(self, users):
        return self.scores[users]


def test_rank_percentile_counts_every_item_and_splits_ties():
    model = FixedScores(np.array([[5.0, 4.0, 4.0, 1.0, 0.0]] * 2, dtype=np.float32))
    users = np.array([0, 0, 0, 0, 1])
    items = np.array([0, 1, 3, 4, 2])
    # item 1 and 2 tie for ranks 1 and 2: both get 1.5; the scale is rank / (n_items - 1)
    expected = np.array([0.0, 1.5, 3.0, 4.0, 1.5]) / 4
    np.testing.assert_allclose(rank_percentiles(model, users, items, 5), expected)


@pytest.mark.parametrize(("n_users", "rows_per_user"), [(3, 60), (80, 1)])
def test_sorting_and_counting_give_the_same_ranks(n_users, rows_per_user):
    # many rows per user take the sorting path, one row per user the counting path
    rng = np.random.default_rng(0)
    n_items = 300
    scores = np.round(rng.random((n_users, n_items)) * 40).astype(np.float32)  # many ties
    users = np.repeat(np.arange(n_users), rows_per_user)
    items = rng.integers(0, n_items, len(users))
    own = scores[users, items][:, None]
    higher = (scores[users] > own).sum(axis=1)
    same = (scores[users] == own).sum(axis=1)
    expected = (higher + (same - 1) / 2) / (n_items - 1)
    got = rank_percentiles(FixedScores(scores), users, items, n_items)
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize(
    ("mode", "kept_positions"),
    [("plausible", [0, 1, 2]), ("hard", [197, 198, 199])],
)
def test_mode_sets_the_direction(item_order, split, ctx, mode, kept_positions):
    positions = [0, 1, 2, 100, 101, 197, 198, 199]
    rows = rows_at_positions(split.train, 5, positions)
    flt = create(
        "filters",
        "plausibility",
        {"backend": "item-order-test", "keep": "top-fraction", "fraction": 3 / 8, "mode": mode},
    )
    result = flt.apply(split.train, rows, ctx)
    expected = rows_at_positions(split.train, 5, kept_positions).column("item_id").to_pylist()
    assert sorted(result.kept.column("item_id").to_pylist()) == sorted(expected)
    assert result.rejected.num_rows == 5


def test_threshold_keeps_the_top_share_of_the_catalog(item_order, split, ctx):
    assert split.train.n_items == 200  # percentile = position / 199
    rows = rows_at_positions(split.train, 7, [0, 19, 39, 120, 170, 199])
    options = {"backend": "item-order-test", "keep": "threshold", "threshold": 0.2}
    plausible = create("filters", "plausibility", options).apply(split.train, rows, ctx)
    assert plausible.kept.num_rows == 3  # positions 0, 19, 39 are within 0.2 * 199
    hard = create("filters", "plausibility", {**options, "mode": "hard"})
    assert hard.apply(split.train, rows, ctx).kept.num_rows == 2  # positions 170 and 199


def test_new_users_are_ranked_for_their_parent(item_order, split, ctx):
    parent = split.train.user_index.to_ids([3])[0].as_py()
    items = split.train.item_index.to_ids([3, 4, 150, 160])  # parent's positions 0, 1, 147, 157
    rows = synthetic_table(["syn-a"] * 4, items, "test", parent_user=[parent] * 4)
    flt = create("filters", "plausibility", {"backend": "item-order-test", "fraction": 0.5})
    result = flt.apply(split.train, rows, ctx)
    assert result.kept.column("item_id").to_pylist() == items.to_pylist()[:2]


@pytest.mark.parametrize(("unscored", "kept"), [("keep", 3), ("reject", 1)])
def test_rows_that_cannot_be_ranked_follow_unscored(item_order, split, ctx, unscored, kept):
    user = split.train.user_index.to_ids([0])[0].as_py()
    item = split.train.item_index.to_ids([0])[0].as_py()
    rows = synthetic_table(
        [user, "syn-orphan", user], [item, item, "ghost"], "test", parent_user=None
    )
    flt = create(
        "filters",
        "plausibility",
        {"backend": "item-order-test", "fraction": 1.0, "unscored": unscored},
    )
    result = flt.apply(split.train, rows, ctx)
    assert result.kept.num_rows == kept
    assert result.stats["unscored"] == 2
    if unscored == "reject":
        assert sorted(result.rejected.column("reason").to_pylist()) == [
            "plausibility: cannot be ranked (item not in the catalog)",
            "plausibility: cannot be ranked (no real history for the user or its parent)",
        ]


def test_backend_trained_once_per_split(item_order, split, planted, tmp_path):
    ctx = Context(seed=1234, work_dir=tmp_path, show_progress=False)  # a seed no test used
    item_order.fits = 0
    options = {"backend": "item-order-test", "backend_options": {}}
    first = create("filters", "plausibility", options).apply(split.train, planted, ctx)
    second = create("filters", "plausibility", {**options, "mode": "hard"})
    again = second.apply(split.train, planted, ctx)
    assert item_order.fits == 1
    assert first.stats["backend_reused"] is False and again.stats["backend_reused"] is True
    other_seed = Context(seed=1235, work_dir=tmp_path, show_progress=False)
    second.apply(split.train, planted, other_seed)
    assert item_order.fits == 2


def test_backend_options_from_the_command_line_form():
    flt = create("filters", "plausibility", {"backend": "pop", "backend_options": "count=real"})
    assert flt.options.backend_options == {"count": "real"}
    with pytest.raises(OptionsError, match="backend_options"):
        create("filters", "plausibility", {"backend_options": "count"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"backend": "no-such-backend"},
            r"unknown backend 'no-such-backend' \(available: embedding, ",
        ),
        ({"backend": "pop", "backend_options": "colour=red"}, "unknown option 'colour'"),
    ],
)
def test_backend_and_its_options_are_checked_up_front(options, message):
    with pytest.raises(OptionsError, match=message) as info:
        create("filters", "plausibility", options)
    assert "option 'backend' of filter 'plausibility'" in str(info.value)


def heldout_and_random_rows(split):
    """The test split's real pairs (plausible by definition) and as many random pairs."""
    test = split.test.interactions
    rng = np.random.default_rng(0)
    random_items = split.train.item_index.to_ids(rng.integers(0, split.train.n_items, len(test)))
    users = test.column("user_id")
    heldout = synthetic_table(users, test.column("item_id"), "test", parent_user=None)
    random = synthetic_table(users, random_items, "test", parent_user=None)
    kinds = ["heldout"] * len(test) + ["random"] * len(test)
    return pa.concat_tables([heldout, random]).append_column("kind", pa.array(kinds))


def test_the_default_backend_is_the_embedding_backend():
    assert create("filters", "plausibility").options.backend == "embedding"


@pytest.mark.slow
def test_embedding_backend_keeps_real_heldout_pairs_over_random_ones(split, ctx):
    rows = heldout_and_random_rows(split)
    options = {"fraction": 0.5, "backend_options": {"dim": 32, "epochs": 40}}
    result = create("filters", "plausibility", options).apply(split.train, rows, ctx)
    kinds = result.kept.column("kind").to_pylist()
    heldout, random = kinds.count("heldout"), kinds.count("random")
    assert heldout > 1.5 * random  # measured: 291 held-out vs 154 random rows kept
    assert result.stats["median_percentile_kept"] < result.stats["median_percentile_rejected"]
