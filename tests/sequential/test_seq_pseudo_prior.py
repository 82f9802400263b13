"""`seq` with mode=pseudo-prior (ASReP): a reversed SASRec prepends items to short histories."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    RecaugError,
    Split,
    SplitSpec,
    split_dataset,
)
from recaug_seq.prior import reversed_sequences
from recaug_seq.strategy import SeqStrategy
from tests.sequential.test_sasrec_backend import N_ITEMS, cycle_world

FAST = {"mode": "pseudo-prior", "prior_epochs": 15, "prior_items": 3}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def split() -> Split:
    # walks i, i+1, i+2, ... (mod N_ITEMS): the item before a walk is its first item - 1
    return split_dataset(
        Dataset(cycle_world(n_users=120, lengths=(6, 12))), SplitSpec(protocol="leave-one-out")
    )


@pytest.fixture(scope="module")
def rows(split: Split) -> pa.Table:
    strategy = SeqStrategy(FAST)
    ctx = Context(seed=0, show_progress=False)
    strategy.fit(split.train, ctx)
    return strategy.generate(split.train, GenerationRequest(target="all"), ctx)


def _history(split: Split) -> dict[str, list[tuple[int, str]]]:
    table = split.train.interactions
    out: dict[str, list[tuple[int, str]]] = {}
    for user, item, time in zip(
        table.column("user_id").to_pylist(),
        table.column("item_id").to_pylist(),
        table.column("timestamp").to_pylist(),
    ):
        out.setdefault(user, []).append((time, item))
    return {user: sorted(rows) for user, rows in out.items()}


def test_reversed_sequences_reverse_each_row() -> None:
    backwards = reversed_sequences(np.array([0, 3, 3, 5]), np.array([1, 2, 3, 4, 5]))
    assert backwards.items.tolist() == [3, 2, 1, 5, 4]


def test_each_user_gets_k_items_before_the_first_real_one(split: Split, rows: pa.Table) -> None:
    history = _history(split)
    assert rows.num_rows == 3 * len(history)
    assert pc.all(pc.equal(rows.column("user_id"), rows.column("parent_user"))).as_py()
    assert set(rows.column("origin").to_pylist()) == {"seq"}
    scores = np.asarray(rows.column("score").to_numpy())
    assert np.all((scores > 0) & (scores <= 1))
    mine: dict[str, list[tuple[int, str]]] = {}
    for user, item, time in zip(
        rows.column("user_id").to_pylist(),
        rows.column("item_id").to_pylist(),
        rows.column("timestamp").to_pylist(),
    ):
        mine.setdefault(user, []).append((time, item))
    for user, added in mine.items():
        first_time = history[user][0][0]
        times = [t for t, _ in added]
        assert times == sorted(set(times)) and times[-1] < first_time
        assert not {i for _, i in added} & {i for _, i in history[user]}  # nothing repeated


def test_the_reversed_model_predicts_the_walk_backwards(split: Split, rows: pa.Table) -> None:
    history = _history(split)
    right = total = 0
    by_user: dict[str, list[tuple[int, str]]] = {}
    for user, item, time in zip(
        rows.column("user_id").to_pylist(),
        rows.column("item_id").to_pylist(),
        rows.column("timestamp").to_pylist(),
    ):
        by_user.setdefault(user, []).append((time, item))
    for user, added in by_user.items():
        first = int(history[user][0][1][1:])
        nearest = sorted(added)[-1][1]  # the item right before the first real one
        right += nearest == f"i{(first - 1) % N_ITEMS}"
        total += 1
    assert right / total > 0.7


def test_only_short_histories_by_default(split: Split) -> None:
    strategy = SeqStrategy(FAST)
    ctx = Context(seed=0, show_progress=False)
    strategy.fit(split.train, ctx)
    table = strategy.generate(split.train, GenerationRequest(), ctx)
    lengths = {u: len(r) for u, r in _history(split).items()}
    chosen = set(table.column("user_id").to_pylist())
    assert chosen and max(lengths[u] for u in chosen) < max(lengths.values())
    budget = strategy.generate(split.train, GenerationRequest(budget=7), ctx)
    assert budget.num_rows == 6  # whole users of 3 rows each


def test_target_new_and_untimed_data_are_clear_errors(split: Split) -> None:
    strategy = SeqStrategy(FAST)
    ctx = Context(seed=0, show_progress=False)
    strategy.fit(split.train, ctx)
    with pytest.raises(RecaugError, match="target new"):
        strategy.generate(split.train, GenerationRequest(target="new"), ctx)
    table = split.train.interactions
    untimed = table.set_column(
        table.column_names.index("timestamp"), "timestamp", pa.nulls(table.num_rows, pa.int64())
    )
    with pytest.raises(RecaugError, match="timestamp"):
        SeqStrategy(FAST).fit(split.train.with_interactions(untimed), ctx)


def test_no_room_before_the_first_interaction_is_a_clear_error() -> None:
    # positions rather than times: every history starts at 0, so k items cannot go before it
    # without negative timestamps, which the row contract refuses
    split = split_dataset(
        Dataset(cycle_world(n_users=30, lengths=(6, 8))), SplitSpec(protocol="leave-one-out")
    )
    table = split.train.interactions
    index = table.schema.get_field_index("timestamp")
    starts = pc.min(table.column("timestamp")).as_py()
    early = split.train.with_interactions(
        table.set_column(index, "timestamp", pc.subtract(table.column("timestamp"), starts))
    )
    strategy = SeqStrategy({**FAST, "prior_epochs": 1})
    ctx = Context(seed=0, show_progress=False)
    strategy.fit(early, ctx)
    with pytest.raises(RecaugError, match=r"start earlier than second 3.*add a constant"):
        strategy.generate(early, GenerationRequest(target="all"), ctx)
