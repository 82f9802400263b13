"""Validation-selected arms (`select = "validation"`) and per-arm merge policies."""

from __future__ import annotations

import json

import pytest
from experiment_files import arm

# `pop` honours only concat, and every candidate would tie: a small BPR tells them apart.
EMBEDDING_HEADER = """\
seeds = [0]
ks = [10]

[dataset]
ref = "demo"
options = { users = 120, items = 60, interactions = 1500 }

[[backends]]
name = "embedding"
options = { model = "bpr", epochs = 4, patience = 0, dim = 8 }
"""

GRID = '{ target = ["sparse", "all"], merge = ["concat", "weighted:weight=0.3"] }'


@pytest.fixture
def selected(tmp_path, recaug, write_experiment, test_plugins):
    path = write_experiment(
        arm("tuned", "toy", select='"validation"', grid=GRID),
        arm("light", "toy", merge='"weighted:weight=0.5"'),
        header=EMBEDDING_HEADER,
    )
    out = tmp_path / "out"
    result = recaug("run", path, "--out", out)
    assert result.code == 0, result.err
    return out, result, json.loads((out / "results.json").read_text())


def test_the_choice_is_the_best_validation_candidate_and_its_test_figures(selected):
    _, result, results = selected
    run = next(r for r in results["runs"] if r["arm"] == "tuned")
    selection = run["selection"]
    labels = [c["candidate"] for c in selection["candidates"]]
    assert labels == [
        "none",
        "target=sparse merge=concat",
        "target=sparse merge=weighted:weight=0.3",
        "target=all merge=concat",
        "target=all merge=weighted:weight=0.3",
    ]
    scores = {c["candidate"]: c["validation"] for c in selection["candidates"]}
    assert selection["chosen"] == max(scores, key=lambda label: scores[label])
    assert run["metrics"]["validation"]["ndcg@10"] == pytest.approx(scores[selection["chosen"]])
    baseline = next(r for r in results["runs"] if r["arm"] == "baseline")
    assert scores["none"] == baseline["metrics"]["validation"]["ndcg@10"]
    assert selection["search_s"] > 0
    assert results["arms"]["tuned"]["candidates"] == labels
    assert "test rows untouched until now" in result.err


def test_the_report_says_what_was_tried_and_chosen(selected):
    out, _, _ = selected
    md = (out / "report.md").read_text()
    section = md.split("## Validation-selected arms")[1].split("\n## ")[0]
    assert "Test rows played no part in the choice" in section
    assert "no augmentation (the baseline's model)" in section
    assert "target=all merge=weighted:weight=0.3" in section and "search cost" in section
    assert "| light | toy | weighted:weight=0.5 |" in md  # the Arms table names the merge


def test_candidates_differing_only_in_merge_share_one_augmentation(selected):
    out, _, _ = selected
    folders = sorted(p.name for p in (out / "arms/tuned/seed-0").glob("candidate-*"))
    assert len(folders) == 2  # target sparse and all; two merge policies each


def test_an_arm_merge_policy_is_recorded_and_changes_the_fit(selected):
    _, _, results = selected
    assert results["arms"]["light"]["merge"] == "weighted:weight=0.5"
    assert results["arms"]["baseline"]["merge"] is None


def test_when_none_wins_the_arm_reports_the_baseline_model(
    tmp_path, recaug, write_experiment, test_plugins, monkeypatch
):
    from recaug_app import evaluate

    real_fit = evaluate.fit_model

    def augmented_validates_worse(backend, options, real_train, valid, train, ctx):
        fitted = real_fit(backend, options, real_train, valid, train, ctx)
        if len(train.real()) < len(train):
            fitted.validation = {"ndcg@10": -1.0}
        return fitted

    monkeypatch.setattr(evaluate, "fit_model", augmented_validates_worse)
    path = write_experiment(arm("tuned", "toy", select='"validation"'), header=EMBEDDING_HEADER)
    out = tmp_path / "out"
    result = recaug("run", path, "--out", out)
    assert result.code == 0, result.err
    results = json.loads((out / "results.json").read_text())
    runs = {r["arm"]: r for r in results["runs"]}
    assert runs["tuned"]["selection"]["chosen"] == "none"
    assert runs["tuned"]["metrics"] == runs["baseline"]["metrics"]


def test_selection_never_reads_a_test_row_before_choosing(
    tmp_path, recaug, write_experiment, test_plugins, monkeypatch
):
    """A spy on every ranking: test rows are ranked once per evaluated model (the baseline's
    and the chosen candidate's), never for a candidate being compared."""
    import recaug_core.split as split_module
    from recaug_core import ranking

    tests, built = [], []
    original_split = split_module.split_dataset

    def remember_split(*args, **kwargs):
        split = original_split(*args, **kwargs)
        tests.append(split.test)
        return split

    original_build = ranking.RankingTask.build.__func__

    def spy(cls, train, heldout, known):
        built.append("test" if any(heldout is t for t in tests) else "valid")
        return original_build(cls, train, heldout, known)

    monkeypatch.setattr(split_module, "split_dataset", remember_split)
    monkeypatch.setattr(ranking.RankingTask, "build", classmethod(spy))
    grid = '{ merge = ["concat", "weighted:weight=0.3", "pretrain"] }'
    path = write_experiment(
        arm("tuned", "toy", select='"validation"', grid=grid), header=EMBEDDING_HEADER
    )
    result = recaug("run", path, "--out", tmp_path / "out")
    assert result.code == 0, result.err
    assert built.count("test") == 2  # the baseline's model and the one chosen, nothing else
    assert built.count("valid") >= 3  # every candidate was compared on validation


def test_bad_selection_settings_name_the_key(tmp_path, recaug, write_experiment, test_plugins):
    cases = {
        'grid = { merge = ["avg"] }': "arms[0].grid.merge: unknown merge policy",
        'select = "test"': "arms[0].select",
        'merge = "weighted:weight=2"': "arms[0].merge: weight: Input should be less than",
        'grid = { target = ["sparse"] }': 'grid: a grid is tried only with select = "validation"',
    }
    for line, expected in cases.items():
        key, _, value = line.partition(" = ")
        path = write_experiment(arm("a", "toy", **{key: value}))
        result = recaug("run", path, "--out", tmp_path / "o")
        assert result.code == 2, line
        assert expected in result.err, (line, result.err)
