"""Every metric against values worked out by hand on small examples (numbers written out)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from recaug_core import Dataset, IdIndex, metrics
from recaug_core.ranking import Ranking, score_ranking
from recaug_core.targets import (
    tail_items,
    target_users,
    tie_break_keys,
    training_groups,
    user_groups,
)

N_ITEMS = 6
# Three users' top-3 lists over items 0..5, and their held-out (relevant) items:
#   user A: [2, 0, 4], relevant {0, 5} -> hit at rank 2 only
#   user B: [1, 3, 5], relevant {1}    -> hit at rank 1
#   user C: [4, 2, 3], relevant {2, 3} -> hits at ranks 2 and 3
TOP = np.array([[2, 0, 4], [1, 3, 5], [4, 2, 3]])
RELEVANT = {0: [0, 5], 1: [1], 2: [2, 3]}


def keys_of(relevant: dict[int, list[int]]) -> np.ndarray:
    return np.array(
        sorted(row * N_ITEMS + item for row, items in relevant.items() for item in items)
    )


def per_user(ks: tuple[int, ...] = (1, 3)) -> dict[str, np.ndarray]:
    rows = np.arange(len(TOP))
    hits = metrics.hit_matrix(TOP, rows, keys_of(RELEVANT), N_ITEMS)
    n_relevant = np.array([len(RELEVANT[r]) for r in rows])
    return metrics.ranking_metrics(hits, n_relevant, ks)


def test_hit_matrix_marks_relevant_slots() -> None:
    hits = metrics.hit_matrix(TOP, np.arange(3), keys_of(RELEVANT), N_ITEMS)
    assert hits.tolist() == [[False, True, False], [True, False, False], [False, True, True]]


def test_empty_slot_is_never_a_hit() -> None:
    # Row 1 has an empty slot (-1): row*6 - 1 == 5 is row 0's item 5, which is relevant there.
    top = np.array([[1, 2], [0, -1]])
    hits = metrics.hit_matrix(top, np.arange(2), np.array([5]), N_ITEMS)
    assert not hits.any()


def test_recall() -> None:
    values = per_user()
    # A: 1 of 2 relevant found in the top 3; B: 1 of 1; C: 2 of 2.
    np.testing.assert_allclose(values["recall@3"], [1 / 2, 1.0, 1.0])
    np.testing.assert_allclose(values["recall@1"], [0.0, 1.0, 0.0])


def test_precision() -> None:
    values = per_user()
    np.testing.assert_allclose(values["precision@3"], [1 / 3, 1 / 3, 2 / 3])
    np.testing.assert_allclose(values["precision@1"], [0.0, 1.0, 0.0])


def test_hit() -> None:
    values = per_user()
    np.testing.assert_allclose(values["hit@3"], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(values["hit@1"], [0.0, 1.0, 0.0])


def test_mrr() -> None:
    values = per_user()
    # First hits at ranks 2, 1 and 2.
    np.testing.assert_allclose(values["mrr@3"], [1 / 2, 1.0, 1 / 2])
    np.testing.assert_allclose(values["mrr@1"], [0.0, 1.0, 0.0])


def test_ndcg() -> None:
    values = per_user()
    # A: DCG = 1/log2(3) = 0.6309298; ideal (2 relevant) = 1 + 1/log2(3) = 1.6309298.
    # B: one hit at rank 1 = ideal -> 1.
    # C: DCG = 1/log2(3) + 1/log2(4) = 0.6309298 + 0.5 = 1.1309298; ideal = 1.6309298.
    np.testing.assert_allclose(
        values["ndcg@3"], [0.6309298 / 1.6309298, 1.0, 1.1309298 / 1.6309298], rtol=1e-6
    )
    assert values["ndcg@3"][0] == pytest.approx(0.386853, abs=1e-6)
    assert values["ndcg@3"][2] == pytest.approx(0.693426, abs=1e-6)
    np.testing.assert_allclose(values["ndcg@1"], [0.0, 1.0, 0.0])


def test_ndcg_ideal_is_capped_at_k() -> None:
    # 5 relevant items, K = 2, both slots hits: DCG equals the ideal of 2 hits -> 1.
    hits = np.array([[True, True]])
    assert metrics.ranking_metrics(hits, np.array([5]), [2])["ndcg@2"][0] == pytest.approx(1.0)


# Beyond accuracy: 5 items with real training popularity [10, 5, 3, 1, 0] among 10 users;
# the head is the most popular 20% of the items that have any interaction: ceil(0.2 * 4) = 1
# item (item 0), so items 1..4 are the tail. Lists at K = 2: [0, 1], [0, 2], [1, 3].
POPULARITY = np.array([10.0, 5.0, 3.0, 1.0, 0.0])
TAIL = np.array([False, True, True, True, True])
LISTS = np.array([[0, 1], [0, 2], [1, 3]])


def beyond() -> dict[str, float]:
    return metrics.beyond_accuracy(LISTS, POPULARITY, 10, TAIL, [2])


def test_coverage() -> None:
    assert beyond()["coverage@2"] == pytest.approx(4 / 5)  # items 0, 1, 2, 3 of 5


def test_gini() -> None:
    # Exposure per item [2, 2, 1, 1, 0], sorted [0, 1, 1, 2, 2], n = 5, total 6:
    # sum((2i - n - 1) x_i) = -4*0 - 2*1 + 0*1 + 2*2 + 4*2 = 10 -> 10 / (5 * 6) = 1/3.
    assert beyond()["gini@2"] == pytest.approx(1 / 3)
    assert metrics.gini(np.array([3, 3, 3])) == 0.0
    assert metrics.gini(np.array([0, 0, 0, 8])) == pytest.approx(3 / 4)  # (n - 1) / n


def test_novelty() -> None:
    # Self-information -log2((pop + 1) / (users + 1)): item 0 -> 0, item 1 -> 0.874469,
    # item 2 -> 1.459432, item 3 -> 2.459432; six slots 0,1,0,2,1,3 -> 5.667802 / 6.
    assert beyond()["novelty@2"] == pytest.approx(0.944634, abs=1e-6)
    assert -math.log2(6 / 11) == pytest.approx(0.874469, abs=1e-6)


def test_average_popularity() -> None:
    assert beyond()["avg_popularity@2"] == pytest.approx((10 + 5 + 10 + 3 + 5 + 1) / 6)


def test_tail_share() -> None:
    assert beyond()["tail_share@2"] == pytest.approx(4 / 6)  # slots 1, 2, 1, 3 are tail


def test_empty_slots_are_not_exposure() -> None:
    with_gap = metrics.beyond_accuracy(np.array([[0, -1]]), POPULARITY, 10, TAIL, [2])
    assert with_gap["coverage@2"] == pytest.approx(1 / 5)
    assert with_gap["avg_popularity@2"] == pytest.approx(10.0)


def test_tail_items_are_outside_the_top_fifth() -> None:
    rows = [("u1", "a")] * 1 + [("u2", "a"), ("u3", "a"), ("u1", "b"), ("u2", "b")]
    rows += [("u1", "c"), ("u1", "d"), ("u1", "e"), ("u2", "f")]
    table = pa.table({"user_id": [u for u, _ in rows], "item_id": [i for _, i in rows]})
    data = Dataset(table)
    # Popularity a=3, b=2, c..f=1 over 6 items -> ceil(0.2 * 6) = 2 head items: a and b.
    tail = dict(zip(data.item_index.ids.to_pylist(), tail_items(data).tolist()))
    assert tail == {"a": False, "b": False, "c": True, "d": True, "e": True, "f": True}


def test_user_groups_are_thirds_by_length() -> None:
    # Real history lengths 1..6 (and a user with none): two users per group.
    groups = user_groups(np.array([1, 2, 3, 4, 5, 6, 0]))
    assert groups.codes.tolist() == [0, 0, 1, 1, 2, 2, -1]
    assert (groups.sizes, groups.min_lengths, groups.max_lengths) == (
        (2, 2, 2),
        (1, 3, 5),
        (2, 4, 6),
    )
    assert groups.thresholds() == {"sparse_max_length": 2.0, "dense_min_length": 5.0}


def test_ties_at_a_boundary_are_split_so_groups_stay_thirds() -> None:
    # 60 users with one interaction, 20 with two, 20 with five: cutting at lengths would put
    # 60 % of the users in "sparse"; the tie-break hash of the user id makes 34 / 33 / 33.
    ids = [f"user-{n}" for n in range(100)]
    lengths = np.array([1] * 60 + [2] * 20 + [5] * 20)
    table = pa.table(
        {
            "user_id": [u for u, n in zip(ids, lengths) for _ in range(n)],
            "item_id": [f"i{k}" for n in lengths for k in range(n)],
        }
    )
    train = Dataset(table)
    groups = training_groups(train)
    assert groups.sizes == (34, 33, 33)
    assert (groups.max_lengths[0], groups.min_lengths[1]) == (1, 1)  # length 1 is split
    sparse = set(train.user_index.to_ids(np.flatnonzero(groups.codes == 0)).to_pylist())
    # `--target sparse` augments exactly the users evaluation calls sparse
    assert set(train.user_index.to_ids(target_users(train, "sparse")).to_pylist()) == sparse
    # the same users, whatever order the rows came in (another split of the same users)
    shuffled = Dataset(table.take(np.random.default_rng(0).permutation(table.num_rows)))
    again = training_groups(shuffled)
    assert sparse == set(shuffled.user_index.to_ids(np.flatnonzero(again.codes == 0)).to_pylist())
    assert (
        tie_break_keys(train.user_index).tolist() == tie_break_keys(IdIndex(pa.array(ids))).tolist()
    )


def test_metrics_per_group_use_all_training_users_thresholds() -> None:
    # Six users with 1..6 real training rows over items i0..i5, plus an unseen catalog item
    # i9. Only u1, u2 and u6 are ranked. Thirds of all six users put u2 (2 rows) in the
    # sparse group; thirds of the ranked users alone would have called u2 medium.
    rows = [(f"u{n}", f"i{k}") for n in range(1, 7) for k in range(n)]
    table = pa.table({"user_id": [u for u, _ in rows], "item_id": [i for _, i in rows]})
    items = pa.table({"item_id": [f"i{k}" for k in range(6)] + ["i9"]})
    train = Dataset(table, items=items)
    n_items = train.n_items
    ranked = train.user_index.indices(["u1", "u2", "u6"])
    i9 = train.item_index.indices(["i9"])[0]
    # Each ranked user has i9 held out; u1 and u2 rank it first, u6 misses it.
    top = np.array([[i9, 0], [i9, 0], [0, 1]])
    ranking = Ranking(
        users=ranked,
        top=top,
        relevant_keys=np.array([row * n_items + i9 for row in range(3)]),
        n_relevant=np.array([1, 1, 1]),
    )
    result = score_ranking(ranking, train, [2])
    assert result["group_thresholds"] == {"sparse_max_length": 2.0, "dense_min_length": 5.0}
    groups = result["groups"]
    assert [groups[g]["train_users"] for g in ("sparse", "medium", "dense")] == [2, 2, 2]
    assert (groups["medium"]["min_length"], groups["medium"]["max_length"]) == (3, 4)
    assert (groups["sparse"]["users"], groups["medium"]["users"], groups["dense"]["users"]) == (
        2,
        0,
        1,
    )
    assert groups["sparse"]["recall@2"] == 1.0
    assert groups["dense"]["recall@2"] == 0.0
    assert result["recall@2"] == pytest.approx(2 / 3)
