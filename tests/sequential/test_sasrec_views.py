"""The `sasrec` backend's contrastive views: InfoNCE by hand, CL4SRec's operator views from
the shared operators, DuoRec's same-target positives, and weight 0 = plain SASRec."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from recaug_core import Context, Dataset, OptionsError, Split, SplitSpec, split_dataset
from recaug_modelkit import sequence_ops
from recaug_modelkit.sasrec.sequences import Sequences
from recaug_sasrec.backend import SasrecBackend
from recaug_sasrec.views import OperatorViews, SameTarget, info_nce, right_aligned
from tests.sequential.test_sasrec_backend import FAST, cycle_world


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_info_nce_matches_a_hand_computed_case() -> None:
    # Two pairs in 1-d: views a = (1, 0), b = (2, 1). Each of the 4 views is scored against
    # the 3 others by the product / tau; its partner is the positive.
    a = torch.tensor([[1.0], [0.0]])
    b = torch.tensor([[2.0], [1.0]])
    tau = 0.5
    z = [1.0, 0.0, 2.0, 1.0]
    partner = [2, 3, 0, 1]
    expected = 0.0
    for i in range(4):
        others = [z[i] * z[j] / tau for j in range(4) if j != i]
        positive = z[i] * z[partner[i]] / tau
        expected += -positive + math.log(sum(math.exp(o) for o in others))
    expected /= 4
    assert info_nce(a, b, tau).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_cosine_ignores_the_length_of_the_vectors() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[3.0, 0.0], [0.0, 0.5]])
    # cosine: positives at similarity 1, the negatives at 0 (orthogonal) or 1 (own-pair
    # members are the positive). Each view: -1/t + log(e^{1/t} + 2 e^0).
    t = 0.5
    expected = -1 / t + math.log(math.exp(1 / t) + 2)
    assert info_nce(a, b, t, "cosine").item() == pytest.approx(expected, rel=1e-5)
    assert info_nce(a, b, t, "dot").item() != pytest.approx(expected, rel=1e-3)


def test_right_aligned_keeps_the_last_items_of_a_long_unit() -> None:
    unit = np.array([0, 0, 0, 0, 1])
    item = np.array([5, 6, 7, 8, 2])
    tokens = right_aligned(unit, item, n=3, width=3)
    assert tokens.tolist() == [[7, 8, 9], [0, 0, 3], [0, 0, 0]]


def _sequences(rows: list[list[int]]) -> Sequences:
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    return Sequences(indptr, np.concatenate([np.array(r, dtype=np.int64) for r in rows]))


def test_operator_views_are_the_shared_operators_output() -> None:
    sequences = _sequences([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 4]])
    rates = {"crop": 0.6, "mask": 0.3, "reorder": 0.6, "substitute": 0.1, "insert": 0.4}
    first, length = np.array([0, 10]), np.array([10, 2])
    views = OperatorViews(sequences, 10, ["crop"], rates, 12, np.random.default_rng(0))
    tokens = views(first, length)
    # crop keeps 6 contiguous items of the long unit; the 2-item unit is cropped to 1
    long = tokens[0][tokens[0] > 0] - 1
    assert len(long) == 6 and np.all(np.diff(long) == 1)
    assert (tokens[1] > 0).sum() == 1
    # the same draws through the operator itself give the same view
    again = sequence_ops.crop(
        sequence_ops.History(sequences.items, np.zeros(12, np.int64)),
        first,
        length,
        0.6,
        _rng_after_choice(2, 1),
    )
    assert again.item[again.unit == 0].tolist() == long.tolist()


def _rng_after_choice(n: int, n_ops: int) -> np.random.Generator:
    rng = np.random.default_rng(0)
    rng.integers(n_ops, size=n)  # the view draws its operators first
    return rng


def test_an_unchanged_unit_is_its_own_view() -> None:
    # mask cannot drop the only item of a one-item unit: the view is the unit itself
    sequences = _sequences([[4]])
    rates = {"crop": 0.6, "mask": 0.3, "reorder": 0.6, "substitute": 0.1, "insert": 0.4}
    views = OperatorViews(sequences, 5, ["mask"], rates, 3, np.random.default_rng(0))
    assert views(np.array([0]), np.array([1])).tolist() == [[0, 0, 5]]


def test_same_target_positives_end_before_another_occurrence_of_the_item() -> None:
    # item 7 follows a prefix in sequences 0, 1 and 2; item 9 only in sequence 0
    sequences = _sequences([[1, 7, 9], [2, 3, 7], [7, 7]])
    same = SameTarget(sequences, np.random.default_rng(0))
    targets = np.array([1, 5, 7, 2])  # occurrences of 7, 7, 7 and 9
    for _ in range(20):
        positive = same.positives(targets)
        items = sequences.items[positive]
        assert items.tolist() == [7, 7, 7, 9]
        assert np.all(positive[:3] != targets[:3])  # another occurrence when there is one
        assert positive[3] == 2  # 9 occurs nowhere else: the sequence itself
    start, length = same.prefixes(np.array([5, 7]))
    assert start.tolist() == [3, 6] and length.tolist() == [2, 1]


def _ctx(tmp_path: Path, seed: int = 0) -> Context:
    return Context(seed=seed, work_dir=tmp_path, show_progress=False)


@pytest.fixture(scope="module")
def cycle_split() -> Split:
    return split_dataset(Dataset(cycle_world()), SplitSpec(protocol="leave-one-out"))


def _scores(options: dict, split: Split, tmp_path: Path) -> np.ndarray:
    model = SasrecBackend(options)
    model.fit(split.train, _ctx(tmp_path), valid=split.valid)
    return model.score(np.arange(split.train.n_users))


@pytest.mark.parametrize("views", ["cl4srec", "duorec"])
def test_a_view_with_zero_weight_is_plain_sasrec(
    views: str, cycle_split: Split, tmp_path: Path
) -> None:
    plain = _scores(FAST, cycle_split, tmp_path / "plain")
    zero = _scores({**FAST, "views": views, "view_weight": 0.0}, cycle_split, tmp_path / "zero")
    viewed = _scores({**FAST, "views": views}, cycle_split, tmp_path / "viewed")
    np.testing.assert_array_equal(plain, zero)
    assert not np.allclose(plain, viewed)  # the check can fail: a view does change training


@pytest.mark.parametrize("views", ["cl4srec", "duorec"])
def test_training_with_views_records_the_contrastive_term(
    views: str, cycle_split: Split, tmp_path: Path
) -> None:
    options = {**FAST, "views": views, "view_ops": ["crop", "reorder", "insert"]}
    model = SasrecBackend(options)
    model.fit(cycle_split.train, _ctx(tmp_path), valid=cycle_split.valid)
    config = json.loads((model.checkpoint / "config.json").read_text())
    assert config["options"]["views"] == views
    scores = model.score(np.arange(3))
    assert scores.shape == (3, cycle_split.train.n_items) and np.isfinite(scores).all()


def test_views_learn_the_walks(cycle_split: Split, tmp_path: Path) -> None:
    from recaug_app.evaluate import evaluate_model

    options = {"hidden": 32, "inner": 32, "max_len": 10, "epochs": 40, "patience": 40}
    options |= {"lr": 0.01, "views": "cl4srec", "view_weight": 0.1}
    result, _ = evaluate_model(
        SasrecBackend, options, cycle_split, cycle_split.train, (1,), _ctx(tmp_path)
    )
    assert result.values["hit@1"] > 0.8


def test_bad_view_options_are_one_sentence() -> None:
    with pytest.raises(OptionsError, match="view_ops"):
        SasrecBackend({"views": "cl4srec", "view_ops": "crop,crop"})
    with pytest.raises(OptionsError, match="views"):
        SasrecBackend({"views": "simclr"})
    with pytest.raises(OptionsError, match="view_temperature"):
        SasrecBackend({"view_temperature": 0})
