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


def test_an_augmented_run_is_tested_and_judged(recaug, toy_plugin, tmp_path):
    run = tmp_path / "run"
    assert recaug("augment", *SMALL, "--strategy", "toy", "--out", run).code == 0
    result = recaug("evaluate", "--augmented", run, "--backend", "pop", "--seeds", "2", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    test = report["tests"]["all"]["ndcg@10"]
    assert test["test"].startswith("paired per-user test")
    assert test["p"] <= test["p_adjusted"] <= 1 and test["ci_low"] <= test["ci_high"]
    assert set(report["tests"]) == {"all", "sparse", "medium", "dense"}
    assert "coverage@10" not in report["tests"]["all"]  # not a per-user metric
    validation = report["validation"]
    assert 0 <= validation["hits"] <= validation["rows"] and validation["by_chance"] >= 0
    assert report["verdict"].startswith("On NDCG@10")
    text = recaug("evaluate", "--augmented", run, "--backend", "pop").out
    assert "p=" in text and "95% CI" in text
    assert "kept synthetic rows on their user's validation items:" in text
    assert text.strip().splitlines()[-1].startswith("verdict: On NDCG@10")


def test_a_given_split_from_a_file(recaug, tmp_path):
    rows = [(f"u{u}", f"i{(u + k) % 40}") for u in range(60) for k in range(6)]
    (tmp_path / "data.csv").write_text("user_id,item_id\n" + "".join(f"{u},{i}\n" for u, i in rows))
    parts = ["train"] * 4 + ["valid", "test"]
    (tmp_path / "split.csv").write_text(
        "user_id,item_id,split\n"
        + "".join(f"{u},{i},{parts[n % 6]}\n" for n, (u, i) in enumerate(rows))
    )
    given = ("--split", "given", "--backend", "pop", "--json")
    result = recaug(
        "evaluate", tmp_path / "data.csv", *given, "--split-file", tmp_path / "split.csv"
    )
    assert result.code == 0, result.err
    split = json.loads(result.out)["split"]
    assert (split["train"]["rows"], split["valid"]["rows"], split["test"]["rows"]) == (240, 60, 60)
    missing = recaug("evaluate", tmp_path / "data.csv", *given)
    assert missing.code == 2 and "--split-file FILE" in missing.err
    unused = recaug("evaluate", tmp_path / "data.csv", "--split-file", tmp_path / "split.csv")
    assert unused.code == 2 and "add --split given" in unused.err


def test_merge_policy_from_the_command_line(recaug, toy_plugin, tmp_path):
    run = tmp_path / "run"
    assert recaug("augment", *SMALL, "--strategy", "toy", "--out", run).code == 0
    fast = ("--backend", "embedding", "-o", "model=bpr", "-o", "epochs=3", "-o", "patience=0")
    reports = {}
    for merge in ("concat", "weighted:weight=0", "weighted:weight=0.5"):
        result = recaug("evaluate", "--augmented", run, *fast, "--merge", merge, "--json")
        assert result.code == 0, result.err
        reports[merge] = json.loads(result.out)
        assert reports[merge]["run"]["merge"] == merge
        assert reports[merge]["augmented"]["validation"]["ndcg@10"] >= 0
    # weight 0: the augmented model is the baseline model, to the last digit
    zero = reports["weighted:weight=0"]
    assert zero["augmented"]["ndcg@10"] == zero["baseline"]["ndcg@10"]
    assert reports["weighted:weight=0.5"]["augmented"] != reports["concat"]["augmented"]
    text = recaug("evaluate", "--augmented", run, *fast, "--merge", "pretrain")
    assert text.code == 0, text.err
    assert "merged with 'pretrain'" in text.out


def test_merge_policies_a_backend_cannot_honour_are_refused(recaug, toy_plugin, tmp_path):
    run = tmp_path / "run"
    assert recaug("augment", *SMALL, "--strategy", "toy", "--out", run).code == 0
    refused = recaug("evaluate", "--augmented", run, "--backend", "pop", "--merge", "pretrain")
    assert refused.code == 2
    assert "backend 'pop' cannot honour merge policy 'pretrain'" in refused.err
    bad = recaug("evaluate", "--augmented", run, "--merge", "weighted:weight=3")
    assert bad.code == 2 and "--merge 'weighted:weight=3'" in bad.err
    alone = recaug("evaluate", "--backend", "pop", "--merge", "pretrain")
    assert alone.code == 2 and "give --augmented DIR" in alone.err


def test_evaluate_names_the_baseline_and_the_augmented_fit_in_its_progress(
    recaug, toy_plugin, tmp_path, monkeypatch
):
    run = tmp_path / "run"
    assert recaug("augment", *SMALL, "--strategy", "toy", "--out", run).code == 0
    monkeypatch.setenv("RECAUG_PROGRESS", "auto")  # stderr is captured: a log
    result = recaug(
        "evaluate", "--augmented", run, "--backend", "embedding:dim=8,epochs=3,patience=0"
    )
    assert result.code == 0, result.err
    assert "\r" not in result.err
    bars = [line for line in result.err.splitlines() if line.startswith("lightgcn")]
    assert [line.split(":")[0] for line in bars] == [
        "lightgcn (baseline, seed 0)",
        "lightgcn (augmented, seed 0)",
    ]
    assert all(": 3/3 epoch in " in line for line in bars)
