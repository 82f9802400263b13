"""The `rerank` strategy: a proposer's candidates, kept where the scorers agree."""

from __future__ import annotations

import numpy as np
import pytest

from recaug_core import Context, GenerationRequest, OptionsError, create, tail_items
from recaug_core.testing import StrategyContract, tiny_split

FAST_EMBEDDING = {"model": "bpr", "epochs": 5, "dim": 8, "patience": 2}


class TestRerankContract(StrategyContract):
    component_name = "rerank"
    options = {"proposer": "cooccurrence", "scorers": ["embedding"]}


class TestRerankWithAProposingBackendContract(StrategyContract):
    component_name = "rerank"
    options = {"proposer": "embedding", "proposer_options": FAST_EMBEDDING}


def generated(tmp_path, target="sparse", budget=None, **options):
    split = tiny_split()
    strategy = create("strategies", "rerank", {"proposer": "cooccurrence", **options})
    ctx = Context(seed=0, work_dir=tmp_path, show_progress=False)
    strategy.fit(split.train, ctx)
    rows = strategy.generate(split.train, GenerationRequest(budget=budget, target=target), ctx)
    return split, strategy, rows


def test_rows_are_new_items_of_target_users_best_first(tmp_path):
    split, _, rows = generated(tmp_path, scorers=["cooccurrence"], per_user=2)
    pairs = set(zip(rows.column("user_id").to_pylist(), rows.column("item_id").to_pylist()))
    train = split.train.interactions
    known = set(zip(train.column("user_id").to_pylist(), train.column("item_id").to_pylist()))
    assert pairs and not pairs & known
    counts = np.unique(rows.column("user_id").to_numpy(zero_copy_only=False), return_counts=True)
    assert counts[1].max() <= 2
    scores = rows.column("score").to_numpy()
    assert ((scores > 0) & (scores <= 1)).all()
    assert (np.diff(scores) <= 0).all()  # most confident first: a budget keeps the best
    assert rows.column("parent_user").to_pylist() == rows.column("user_id").to_pylist()


def test_a_candidate_needs_the_scorers_majority(tmp_path):
    # the proposer's own order judged by itself: every candidate in its top half is voted for
    _, _, agreeing = generated(tmp_path / "a", scorers=["cooccurrence"], per_user=20, agree=0.5)
    per_user = np.unique(
        agreeing.column("user_id").to_numpy(zero_copy_only=False), return_counts=True
    )[1]
    assert per_user.max() <= 10  # of 20 candidates, only the top half wins the vote
    _, _, strict = generated(tmp_path / "b", scorers=["cooccurrence"], per_user=20, agree=0.1)
    assert strict.num_rows < agreeing.num_rows


def test_long_tail_target_proposes_tail_items_only(tmp_path):
    split, _, rows = generated(tmp_path, target="long-tail", scorers=["cooccurrence"])
    tail = tail_items(split.train)
    items = split.train.item_index.indices(rows.column("item_id"))
    assert rows.num_rows and tail[items].all()


def test_new_users_are_not_its_target(tmp_path):
    with pytest.raises(OptionsError, match="--target new is not one of its targets"):
        generated(tmp_path, target="new")


def test_unknown_proposer_or_scorer_is_named(tmp_path):
    with pytest.raises(Exception, match="unknown backend 'nope'"):
        create("strategies", "rerank", {"proposer": "nope"})
    with pytest.raises(Exception, match="unknown backend 'nada'"):
        create("strategies", "rerank", {"scorers": ["cooccurrence", "nada"]})


def test_backends_stop_early_on_training_rows_only(tmp_path, monkeypatch):
    """A backend proposer is fitted on the training split with one training row per user held
    out for early stopping: never on validation or test rows."""
    from recaug_rerank import scorers

    split = tiny_split()
    seen = {}
    original = scorers.held_out

    def spy(train, ctx):
        fit_part, valid = original(train, ctx)
        seen["fit"], seen["valid"] = fit_part, valid
        return fit_part, valid

    monkeypatch.setattr(scorers, "held_out", spy)
    strategy = create(
        "strategies", "rerank", {"proposer": "embedding", "proposer_options": FAST_EMBEDDING}
    )
    strategy.fit(split.train, Context(seed=0, work_dir=tmp_path, show_progress=False))
    rows = split.train.interactions
    train_pairs = set(zip(*(rows.column(c).to_pylist() for c in ("user_id", "item_id"))))
    for part in ("fit", "valid"):
        table = seen[part].interactions
        assert (
            set(zip(*(table.column(c).to_pylist() for c in ("user_id", "item_id")))) <= train_pairs
        )
    assert len(seen["fit"]) + len(seen["valid"]) == len(split.train)
    assert len(seen["valid"]) > 0


# lora-gen options small enough that its tiny model fits in about a second
FAST_LLM = {
    "tiny_hidden": 32,
    "pretrain_epochs": 1,
    "epochs": 1,
    "max_length": 64,
    "cuts_per_user": 2,
    "checkpoint_every": 0,
}


def test_llm_scorer_keeps_the_candidates_the_language_model_finds_likeliest(tmp_path):
    """One llm judge with agree=0.5: exactly the half of each user's candidates with the
    highest log-probability after the user's history survives the vote."""
    split, strategy, rows = generated(
        tmp_path, scorers=["llm"], llm_options=FAST_LLM, candidates=8, per_user=8
    )
    assert rows.num_rows
    users = split.train.user_index.indices(rows.column("user_id"))
    items = split.train.item_index.indices(rows.column("item_id"))
    user = int(users[0])
    proposed = strategy.proposer_.score(np.asarray([user]))[0]
    proposed[split.train.real().interaction_matrix()[user].indices] = -np.inf
    candidates = np.argsort(-proposed, kind="stable")[:8]
    judged = strategy.scorers_[0].score_candidates(np.asarray([user]), candidates[None])[0]
    assert np.isfinite(judged).all() and (judged < 0).all()
    likeliest = set(candidates[np.argsort(-judged, kind="stable")[:4]].tolist())
    assert set(items[users == user].tolist()) == likeliest
