"""The paired test behind every "helped" / "hurt", Holm's correction, and the verdict."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from recaug_app.stats import Finding, aligned, holm, paired_test, verdict
from recaug_core.ranking import UserScores


def _null_experiments(n: int, seeds: int, users: int, seed_shift: float, rng) -> list[float]:
    """p-values of experiments in which the arm is the baseline plus zero-mean noise: a user
    effect, a per-seed shift (training chance) and per-cell noise."""
    out = []
    for _ in range(n):
        base = np.clip(rng.beta(1, 4, users)[None] + rng.normal(0, 0.15, (seeds, users)), 0, 1)
        noise = (
            rng.normal(0, seed_shift, (seeds, 1))
            + rng.normal(0, 0.02, (1, users))
            + rng.normal(0, 0.1, (seeds, users))
        )
        test = paired_test(base + noise, base)
        assert test is not None
        out.append(test.p)
    return out


@pytest.mark.parametrize("seed_shift", [0.0, 0.01])
def test_false_positives_stay_near_five_percent(seed_shift):
    # 400 experiments without any real effect; about 20 (5 %) may be called significant.
    # The seed shift (training chance) must be absorbed by the seed term of the variance.
    p = np.array(_null_experiments(400, 3, 200, seed_shift, np.random.default_rng(7)))
    assert (p < 0.05).mean() <= 0.075


def test_a_pooled_user_test_would_not_absorb_seed_shifts():
    # The same null experiments with a large per-seed shift: a test over the users alone
    # (the seeds pooled as if independent) rejects far too often; ours does not.
    rng = np.random.default_rng(3)
    naive = ours = 0
    for _ in range(300):
        base = rng.random((3, 300))
        arm = base + rng.normal(0, 0.03, (3, 1)) + rng.normal(0, 0.1, (3, 300))
        diff = (arm - base).ravel()
        naive += abs(diff.mean()) / (diff.std(ddof=1) / np.sqrt(diff.size)) > 1.96
        ours += paired_test(arm, base).p < 0.05
    assert naive / 300 > 0.3
    assert ours / 300 <= 0.08


def test_a_real_change_is_found_with_its_interval():
    rng = np.random.default_rng(0)
    base = rng.random((3, 500))
    arm = base * 1.10 + rng.normal(0, 0.05, (3, 500))
    test = paired_test(arm, base)
    assert test.p < 1e-6
    assert test.ci_low < 0.10 < test.ci_high
    assert test.change == pytest.approx(arm.mean() / base.mean() - 1)
    assert (test.users, test.seeds) == (500, 3)


def test_identical_runs_show_no_change():
    base = np.random.default_rng(1).random((2, 50))
    test = paired_test(base.copy(), base)
    assert (test.change, test.p) == (0.0, 1.0)
    assert test.ci_low == test.ci_high == 0.0


def test_seeds_that_disagree_widen_the_interval():
    rng = np.random.default_rng(2)
    base = rng.random((3, 400))
    noise = rng.normal(0, 0.1, (3, 400))
    steady = paired_test(base + 0.01 + noise, base)
    shifted = paired_test(base + 0.01 + noise + np.array([[-0.04], [0.0], [0.04]]), base)
    assert shifted.ci_high - shifted.ci_low > 2 * (steady.ci_high - steady.ci_low)
    assert shifted.p > steady.p


def test_a_baseline_without_hits_gives_no_relative_change():
    assert paired_test(np.ones((1, 5)), np.zeros((1, 5))) is None
    assert paired_test(np.zeros((1, 5)), np.zeros((1, 5))).p == 1.0


def test_holm_adjusts_step_down():
    # sorted p 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> monotone
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0]
    assert len(holm([])) == 0


def _scores(ids, groups, values):
    return UserScores(
        pa.array(ids, pa.string()),
        np.array(groups, dtype=np.int8),
        {"ndcg@10": np.array(values, dtype=float)},
    )


def test_users_are_paired_by_id_across_runs_and_seeds():
    # seed 0 scores u1..u3 in another order in the arm; u3 is missing in seed 1: it is left
    # out of every seed, so the matrices pair the same users in every row
    base = {0: _scores(["u1", "u2", "u3"], [0, 1, 2], [0.1, 0.2, 0.3]),
            1: _scores(["u1", "u2"], [0, 1], [0.4, 0.5])}  # fmt: skip
    arm = {0: _scores(["u3", "u2", "u1"], [2, 1, 0], [0.33, 0.22, 0.11]),
           1: _scores(["u2", "u1"], [1, 0], [0.55, 0.44])}  # fmt: skip
    a, b = aligned(arm, base, "ndcg@10")
    assert b.tolist() == [[0.1, 0.2], [0.4, 0.5]]
    assert a.tolist() == [[0.11, 0.22], [0.44, 0.55]]
    a, b = aligned(arm, base, "ndcg@10", "sparse")
    assert (a.tolist(), b.tolist()) == ([[0.11], [0.44]], [[0.1], [0.4]])
    assert aligned(arm, base, "recall@10") is None
    assert aligned(arm, {}, "ndcg@10") is None


def test_verdict_names_what_helped_hurt_and_did_nothing():
    found = verdict(
        {
            "good": [Finding("overall", 0.05, True), Finding("for sparse users", 0.02, False)],
            "bad": [Finding("overall", -0.09, True), Finding("for sparse users", -0.2, True)],
            "flat": [Finding("overall", -0.01, False)],
            "odd": [Finding("overall", -0.03, True), Finding("for sparse users", 0.1, True)],
            "old": [Finding("overall", 0.5, None)],
        },
        "NDCG@10",
    )
    assert (found.helped, found.hurt, found.mixed) == (["good"], ["bad"], ["odd"])
    assert (found.no_difference, found.untested) == (["flat"], ["old"])
    text = found.sentence
    assert "good (+5.0% overall) helped" in text
    assert "bad (−9.0% overall, −20.0% for sparse users) hurt" in text
    assert "flat (−1.0% overall, not significant) made no measurable difference" in text
    assert "Holm" in text and text.count(".") >= 1
    assert "--merge weighted" in text and 'select = "validation"' in text  # losses: what next


def test_verdict_without_losses_suggests_confirming_or_searching():
    helped = verdict({"a": [Finding("overall", 0.04, True)]}, "NDCG@10").sentence
    assert "confirm a" in helped and "--merge" not in helped
    nothing = verdict({"a": [Finding("overall", 0.01, False)]}, "NDCG@10").sentence
    assert "a (+1.0% overall, not significant) made no measurable" in nothing
    assert "add seeds" in nothing


def test_verdict_does_not_advise_a_search_the_arms_already_ran():
    plain = verdict({"a": [Finding("overall", 0.01, False)]}, "NDCG@10").sentence
    tuned = verdict({"a": [Finding("overall", 0.01, False)]}, "NDCG@10", {"a"}).sentence
    assert 'select = "validation"' in plain
    assert 'select = "validation"' not in tuned and "[arms.grid]" in tuned
    hurt = verdict({"a": [Finding("overall", -0.05, True)]}, "NDCG@10", {"a"}).sentence
    assert "disagrees" in hurt and "weighted" not in hurt
