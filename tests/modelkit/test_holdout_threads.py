"""Validation rows a generator holds back from its own training rows; default threads."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from recaug_core import split_dataset
from recaug_modelkit.holdout import HELD_SHARE, MIN_USERS, hold_out
from recaug_modelkit.threads import MIN_CPUS, auto_threads, cpu_threads
from recaug_sources.world import demo_world


@pytest.fixture(scope="module")
def train():
    return split_dataset(demo_world(n_users=4000, n_items=300, n_interactions=40000), seed=0).train


def pairs(dataset) -> set[tuple[str, str]]:
    table = dataset.interactions
    return set(zip(table.column("user_id").to_pylist(), table.column("item_id").to_pylist()))


def test_held_back_rows_are_training_rows_of_a_share_of_users(train):
    holdout = hold_out(train, 0.2, seed=0)
    assert holdout.task is not None
    valid_users = holdout.task.users
    assert len(valid_users) == pytest.approx(0.2 * (train.user_lengths() >= 2).sum(), abs=1)
    fit = pairs(holdout.fit)
    held = pairs(train) - fit
    assert len(held) == holdout.rows > 0
    lengths = train.user_lengths()
    held_users = train.user_index.indices(pc.unique(pc.list_flatten([[u for u, _ in held]])))
    assert set(held_users.tolist()) == set(valid_users.tolist())
    # a fifth of each user's items, at least one, and each keeps some to be ranked from
    fit_lengths = holdout.fit.user_lengths()
    for user in valid_users[:50]:
        n = lengths[user]
        assert n - fit_lengths[user] == max(1, int(HELD_SHARE * n))
        assert fit_lengths[user] >= 1


def test_the_same_seed_holds_back_the_same_rows(train):
    assert pairs(hold_out(train, 0.2, seed=3).fit) == pairs(hold_out(train, 0.2, seed=3).fit)
    assert pairs(hold_out(train, 0.2, seed=3).fit) != pairs(hold_out(train, 0.2, seed=4).fit)


def test_too_few_validation_users_hold_back_nothing(train):
    few = (MIN_USERS - 1) / (train.user_lengths() >= 2).sum()
    holdout = hold_out(train, few, seed=0)
    assert holdout.task is None and holdout.rows == 0 and len(holdout.fit) == len(train)
    assert hold_out(train, 0.0, seed=0).task is None


def test_default_threads_split_only_big_steps_on_machines_with_cpus_to_spare():
    assert auto_threads(1e12, cpus=2) == 1, "2 CPUs: a neighbour's work would stall a second"
    assert auto_threads(1e6, cpus=64) == 1, "small steps: hand-offs cost more than they save"
    assert auto_threads(1e12, cpus=MIN_CPUS) == MIN_CPUS // 2
    assert auto_threads(1e12, cpus=64) == 8


def test_threads_are_restored_after_the_block():
    import torch

    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with cpu_threads(1, "meta"):  # not a CPU: torch's own setting stays
        assert torch.get_num_threads() == before
