"""Merge policies: parsing, weights, the training set a backend gets, and refusals."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from recaug_core import MergePolicy, RecaugError, pair_weights, synthetic_table, training_phases
from recaug_core.merge import check_supported, merged_training_set, synthetic_weights
from recaug_core.testing import contract_synthetic_rows, tiny_split


def augmented_split():
    split = tiny_split()
    rows = contract_synthetic_rows(split)
    augmented = split.train.with_interactions(
        pa.concat_tables([split.train.interactions, rows]), extend_users=True
    )
    return split, augmented, rows


@pytest.mark.parametrize(
    ("spec", "policy", "weight", "by"),
    [
        ("concat", "concat", 1.0, "constant"),
        ("pretrain", "pretrain", 1.0, "constant"),
        ("weighted:weight=0.25", "weighted", 0.25, "constant"),
        ("weighted:weight=0.5,by=score", "weighted", 0.5, "score"),
    ],
)
def test_specs_parse_and_print_back(spec: str, policy: str, weight: float, by: str) -> None:
    parsed = MergePolicy.parse(spec)
    assert (parsed.policy, parsed.weight, parsed.by) == (policy, weight, by)
    assert MergePolicy.parse(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("average", "unknown merge policy; choose one of concat, weighted, pretrain"),
        ("weighted:weight=2", "weight: Input should be less than or equal to 1"),
        ("weighted:weight=nan", "weight"),
        ("weighted:wieght=0.1", "unknown setting 'wieght'"),
        ("pretrain:weight=0.5", "'weight' and 'by' are settings of 'weighted'"),
        ("weighted:weight", "expected"),
    ],
)
def test_bad_specs_are_one_sentence_naming_the_option(spec: str, message: str) -> None:
    with pytest.raises(RecaugError, match=r"^--merge ") as caught:
        MergePolicy.parse(spec)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_score_calibration_is_the_score_percentile_times_the_weight() -> None:
    rows = synthetic_table(
        ["a"] * 5, list("vwxyz"), "s", score=pa.array([0.9, 0.1, None, 0.5, 0.5], pa.float32())
    )
    weights = synthetic_weights(rows, MergePolicy.parse("weighted:weight=0.8,by=score"))
    # scored rows: 0.1 < 0.5 = 0.5 < 0.9 -> percentiles 1/4, 3/4 (ties share), 3/4, 4/4
    np.testing.assert_allclose(weights, [0.8, 0.2, 0.8, 0.6, 0.6], rtol=1e-6)
    constant = synthetic_weights(rows, MergePolicy.parse("weighted:weight=0.3"))
    np.testing.assert_allclose(constant, [0.3] * 5, rtol=1e-6)
    assert (synthetic_weights(rows, MergePolicy.parse("concat")) == 1).all()


def test_weight_zero_leaves_exactly_the_real_training_set() -> None:
    split, augmented, _ = augmented_split()
    merged = merged_training_set(split.train, augmented, MergePolicy.parse("weighted:weight=0"))
    assert merged.user_index == split.train.user_index  # no synthetic user is even a user
    assert merged.interactions.drop_columns(["weight"]).equals(split.train.interactions)
    (phase,) = training_phases(merged, MergePolicy.parse("weighted:weight=0"))
    assert phase.weights is not None and (phase.weights == 1).all()


def test_weights_reach_the_phase_row_by_row() -> None:
    split, augmented, rows = augmented_split()
    policy = MergePolicy.parse("weighted:weight=0.5,by=score")
    merged = merged_training_set(split.train, augmented, policy)
    (phase,) = training_phases(merged, policy)
    n_real = len(split.train)
    assert (phase.weights[:n_real] == 1).all()
    np.testing.assert_allclose(phase.weights[n_real:], synthetic_weights(rows, policy))
    users, items, weights = pair_weights(phase)
    assert len(users) == len(set(zip(users.tolist(), items.tolist())))
    assert weights is not None and weights.min() > 0 and weights.max() == 1


def test_pretrain_fine_tunes_on_the_real_rows_only() -> None:
    split, augmented, _ = augmented_split()
    first, second = training_phases(augmented, MergePolicy.parse("pretrain"))
    assert (first.name, second.name) == ("pretrain", "fine-tune")
    assert len(first.data) == len(augmented)
    assert set(second.data.interactions.column("origin").to_pylist()) == {"real"}
    assert len(second.data) == len(split.train)
    # without synthetic rows there is nothing to pretrain on: one plain phase
    (only,) = training_phases(split.train, MergePolicy.parse("pretrain"))
    assert only.data is split.train


def test_a_backend_is_never_given_a_policy_it_does_not_declare() -> None:
    from recaug_core import component_class

    pop = component_class("backends", "pop")
    check_supported(pop, MergePolicy.parse("concat"))
    with pytest.raises(RecaugError, match="backend 'pop' cannot honour merge policy 'weighted'"):
        check_supported(pop, MergePolicy.parse("weighted:weight=0.5"))
