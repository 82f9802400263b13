"""`recaug evaluate` from the command line (the protocol itself is tested in tests/evaluation)."""

from __future__ import annotations

import json

SMALL = ("demo", "-s", "users=150", "-s", "items=80", "-s", "interactions=2500")


def test_baseline_json_shape(recaug):
    result = recaug("evaluate", *SMALL, "--backend", "pop", "--k", "5,10", "--seeds", "2", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    baseline = report["baseline"]
    for key in (
        "ndcg@10",
        "recall@5",
        "hit@10",
        "mrr@10",
        "precision@5",
        "coverage@10",
        "gini@10",
        "novelty@10",
        "avg_popularity@10",
        "tail_share@10",
    ):
        assert key in baseline, key
    assert set(baseline["groups"]) == {"sparse", "medium", "dense"}
    assert baseline["std"]["ndcg@10"] >= 0 and len(baseline["per_seed"]) == 2
    assert report["split"]["seeds"] == [0, 1]
    assert report["backend"]["name"] == "pop"
    assert "baseline_fit_s" in report["timings"]


def test_compare_with_an_augmented_run(recaug, toy_plugin, tmp_path):
    run = tmp_path / "run"
    assert recaug("augment", *SMALL, "--strategy", "toy", "--out", run).code == 0
    result = recaug("evaluate", "--augmented", run, "--backend", "pop", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert {"baseline", "augmented", "change", "split", "timings"} <= set(report)
    assert report["split"]["from_run"] == str(run)
    assert report["baseline"]["users"] == report["augmented"]["users"]
    text = recaug("evaluate", "--augmented", run, "--backend", "pop")
    assert "augmented" in text.out and "change" in text.out


def test_evaluating_a_run_against_other_data_is_refused(recaug, toy_plugin, tmp_path):
    run = tmp_path / "run"
    assert recaug("augment", *SMALL, "--strategy", "toy", "--out", run).code == 0
    result = recaug("evaluate", tmp_path / "other.csv", "--augmented", run, "--backend", "pop")
    assert result.code == 2 and "differs from the data of run" in result.err


def test_bad_cutoffs_and_unknown_backend(recaug):
    assert "--k" in recaug("evaluate", "--backend", "pop", "--k", "ten").err
    unknown = recaug("evaluate", "--backend", "nope")
    assert unknown.code == 2 and "unknown backend 'nope'" in unknown.err
