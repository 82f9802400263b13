"""The five sequence operators do what their names promise, on many units at once."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaug_modelkit import sequence_ops as operators
from recaug_modelkit.neighbours import Neighbours, from_cooccurrence, from_embeddings


def _history(lengths: list[int]) -> tuple[operators.History, np.ndarray, np.ndarray]:
    """Units with distinct items 0..N-1 and strictly increasing timestamps (10 s apart)."""
    total = sum(lengths)
    history = operators.History(
        items=np.arange(total, dtype=np.int64), times=np.arange(total, dtype=np.int64) * 10
    )
    lengths_ = np.array(lengths, dtype=np.int64)
    return history, np.cumsum(lengths_) - lengths_, lengths_


def _units(edited: operators.Edited) -> dict[int, list[int]]:
    return {int(u): edited.item[edited.unit == u].tolist() for u in np.unique(edited.unit)}


def _every_item_neighbours(n_items: int) -> Neighbours:
    """Item i's only neighbour is i + 1000 (easy to tell apart from history items)."""
    table = (np.arange(n_items) + 1000)[:, None]
    return Neighbours(table, np.full((n_items, 1), 0.5, np.float32), np.ones(n_items, np.int64))


def test_rank_within_ranks_each_unit_separately() -> None:
    unit = np.array([0, 0, 0, 1, 1])
    key = np.array([0.9, 0.1, 0.5, 0.7, 0.2])
    assert operators.rank_within(unit, key).tolist() == [2, 0, 1, 1, 0]


def test_crop_keeps_a_contiguous_run_of_the_rate_share() -> None:
    history, starts, lengths = _history([10, 20, 5])
    edited = operators.crop(history, starts, lengths, 0.6, np.random.default_rng(0))
    for unit, items in _units(edited).items():
        assert len(items) == int(0.6 * lengths[unit])
        assert items == list(range(items[0], items[0] + len(items)))  # contiguous, in order
        assert starts[unit] <= items[0] and items[-1] < starts[unit] + lengths[unit]


def test_mask_drops_the_rate_share_and_keeps_order() -> None:
    history, starts, lengths = _history([10, 20])
    edited = operators.mask(history, starts, lengths, 0.3, np.random.default_rng(1))
    units = _units(edited)
    assert [len(units[0]), len(units[1])] == [7, 14]
    for items in units.values():
        assert items == sorted(items)


def test_mask_never_empties_a_sequence() -> None:
    history, starts, lengths = _history([1, 2])
    edited = operators.mask(history, starts, lengths, 0.9, np.random.default_rng(0))
    assert _units(edited).keys() == {1}  # a one-item history cannot lose an item
    assert len(_units(edited)[1]) == 1


def test_reorder_shuffles_one_run_and_leaves_timestamps_in_place() -> None:
    history, starts, lengths = _history([30, 30, 30])
    edited = operators.reorder(history, starts, lengths, 0.6, np.random.default_rng(2))
    for unit, items in _units(edited).items():
        original = list(range(starts[unit], starts[unit] + lengths[unit]))
        assert sorted(items) == original
        moved = [i for i, (a, b) in enumerate(zip(items, original)) if a != b]
        assert moved, "the run was not shuffled"
        assert moved[-1] - moved[0] < int(0.6 * lengths[unit])  # inside one run of that size
        times = edited.time[edited.unit == unit]
        assert (np.diff(times) > 0).all(), "timestamps must stay in sequence order"


def test_reorder_skips_runs_too_short_to_shuffle() -> None:
    history, starts, lengths = _history([3])
    edited = operators.reorder(history, starts, lengths, 0.6, np.random.default_rng(0))
    assert len(edited) == 0  # floor(0.6 * 3) = 1 item: nothing to reorder


def test_substitute_replaces_the_rate_share_with_neighbours() -> None:
    history, starts, lengths = _history([20, 40])
    edited = operators.substitute(
        history, starts, lengths, 0.1, _every_item_neighbours(60), np.random.default_rng(3)
    )
    for unit, items in _units(edited).items():
        replaced = [i for i in items if i >= 1000]
        assert len(replaced) == int(0.1 * lengths[unit])
        assert len(items) == lengths[unit]
    assert np.array_equal(edited.new, edited.item >= 1000)
    assert np.isnan(edited.score[~edited.new]).all() and (edited.score[edited.new] == 0.5).all()


def test_substitute_skips_items_without_neighbours() -> None:
    history, starts, lengths = _history([10])
    lonely = Neighbours(
        np.full((10, 1), -1, np.int64), np.zeros((10, 1), np.float32), np.zeros(10, np.int64)
    )
    edited = operators.substitute(history, starts, lengths, 0.5, lonely, np.random.default_rng(0))
    assert len(edited) == 0


def test_insert_puts_a_neighbour_after_items_with_a_timestamp_between() -> None:
    history, starts, lengths = _history([10, 25])
    edited = operators.insert(
        history, starts, lengths, 0.4, _every_item_neighbours(35), np.random.default_rng(4)
    )
    for unit, items in _units(edited).items():
        inserted = [i for i in items if i >= 1000]
        assert len(inserted) == int(0.4 * lengths[unit])
        assert len(items) == lengths[unit] + len(inserted)
        for position, item in enumerate(items):
            if item >= 1000:
                assert items[position - 1] == item - 1000  # right after its source item
        times = edited.time[edited.unit == unit]
        assert (np.diff(times) >= 0).all(), "time order must follow sequence order"
    new_times = edited.time[edited.new]
    sources = edited.item[edited.new] - 1000
    last = np.isin(sources, starts + lengths - 1)
    assert (new_times[~last] == history.times[sources[~last]] + 5).all()  # half-way to the next
    assert (new_times[last] == history.times[sources[last]]).all()


def test_operators_are_reproducible_for_a_seed() -> None:
    history, starts, lengths = _history([15, 8, 30])
    first = operators.mask(history, starts, lengths, 0.3, np.random.default_rng(7))
    again = operators.mask(history, starts, lengths, 0.3, np.random.default_rng(7))
    other = operators.mask(history, starts, lengths, 0.3, np.random.default_rng(8))
    assert np.array_equal(first.item, again.item)
    assert not np.array_equal(first.item, other.item)


def test_cooccurrence_neighbours_follow_the_histories() -> None:
    # Item 1 always comes right after item 0; item 3 never near 0 within the window.
    histories = [[0, 1, 5, 6, 3], [0, 1, 7, 8, 3], [2, 0, 1, 9, 3]]
    indptr = np.cumsum([0] + [len(h) for h in histories])
    items = np.concatenate(histories)
    neighbours = from_cooccurrence(indptr, items, n_items=10, k=3, window=1)
    assert neighbours.table[0, 0] == 1
    assert 3 not in neighbours.table[0, : neighbours.count[0]]
    assert neighbours.count[4] == 0  # item 4 never occurs: nothing to offer
    tail = np.ones(10, dtype=bool)
    tail[1] = False
    restricted = from_cooccurrence(indptr, items, 10, 3, 1, allowed=tail)
    assert 1 not in restricted.table[0, : restricted.count[0]]


def test_embedding_neighbours_are_the_most_similar_other_items() -> None:
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    neighbours = from_embeddings(vectors, k=1)
    assert neighbours.table[:, 0].tolist() == [1, 0, 3, 2]
    assert (neighbours.count == 1).all()


@pytest.mark.parametrize("op", ["crop", "mask", "reorder"])
def test_operators_handle_no_units(op: str) -> None:
    history, _, _ = _history([3])
    empty = np.zeros(0, dtype=np.int64)
    edited = getattr(operators, op)(history, empty, empty, 0.5, np.random.default_rng(0))
    assert len(edited) == 0


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=12),
    rate=st.floats(min_value=0.05, max_value=0.95),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_every_operator_keeps_time_order_and_its_units(
    lengths: list[int], rate: float, seed: int
) -> None:
    history, starts, lengths_ = _history(lengths)
    neighbours = _every_item_neighbours(int(lengths_.sum()))
    for op in ("crop", "mask", "reorder", "substitute", "insert"):
        rng = np.random.default_rng(seed)
        if op in ("substitute", "insert"):
            edited = getattr(operators, op)(history, starts, lengths_, rate, neighbours, rng)
        else:
            edited = getattr(operators, op)(history, starts, lengths_, rate, rng)
        assert (np.diff(edited.unit) >= 0).all(), f"{op}: units out of order"
        for unit, items in _units(edited).items():
            times = edited.time[edited.unit == unit]
            assert (np.diff(times) >= 0).all(), f"{op}: time order broken"
            own = [i for i in items if i < 1000]
            assert all(starts[unit] <= i < starts[unit] + lengths_[unit] for i in own)
            assert items != list(range(starts[unit], starts[unit] + lengths_[unit])), (
                f"{op}: an unchanged unit was written"
            )
