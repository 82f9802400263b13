"""What an experiment's report claims, and how it backs each claim: the paired test on per-user
scores, the verdict, validation precision, honest headers, partial results while it runs."""

from __future__ import annotations

import json

import pytest
from experiment_files import HEADER, arm

# three seeds and more users than the other tests: the test needs both to call a loss
THREE_SEEDS = HEADER.replace("seeds = [0, 1]", "seeds = [0, 1, 2]").replace(
    "users = 120, items = 60, interactions = 1500", "users = 400, items = 80, interactions = 6000"
)


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """A harmful arm (`unpopular` ruins the popularity model) and a mild one (`toy`), run
    once for the module."""
    import contextlib
    import io

    import faulty_plugin

    import recaug_toy
    from recaug_app.cli import invoke
    from recaug_core.registry import get_registry

    folder = tmp_path_factory.mktemp("judged")
    path = folder / "exp.toml"
    path.write_text(THREE_SEEDS + arm("ruin", "unpopular", target='"all"') + arm("mild", "toy"))
    registry = get_registry()
    registry.register_module(recaug_toy, "toy")
    registry.register_module(faulty_plugin, "faulty")
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = invoke(["run", str(path), "--out", str(folder / "out")])
    finally:
        registry.unregister("faulty")
        registry.unregister("toy")
    assert code == 0, err.getvalue()
    return folder / "out", err.getvalue()


def test_each_evaluation_keeps_its_users_scores(judged):
    import pyarrow.parquet as pq

    out, _ = judged
    table = pq.read_table(out / "arms/ruin/seed-1/eval/pop.users.parquet")
    assert {"user_id", "group", "ndcg@10", "recall@20"} <= set(table.column_names)
    cached = json.loads((out / "arms/ruin/seed-1/eval/pop.json").read_text())
    assert table.num_rows == cached["metrics"]["users"]


def test_a_harmful_arm_is_called_so_by_the_test(judged):
    out, err = judged
    results = json.loads((out / "results.json").read_text())
    ruin = results["summary"]["pop"]["ruin"]["all"]["ndcg@10"]
    test = ruin["significance"]
    assert ruin["change"] < 0 and test["significant"] and test["ci_high"] < 0
    assert test["test"] == "paired per-user test over users and seeds, Holm-adjusted"
    assert test["p"] <= test["p_adjusted"] and test["users"] > 0
    assert results["summary"]["pop"]["ruin"]["all"]["coverage@10"]["significance"] is None
    verdict = err.strip().splitlines()[-1]
    assert verdict.startswith("On NDCG@10") and "ruin (−" in verdict and "hurt" in verdict


def test_the_report_opens_with_the_verdict_and_marks_only_tested_changes(judged):
    out, _ = judged
    md = (out / "report.md").read_text()
    first = md.split("\n## ")[0]
    assert "> **Verdict.** On NDCG@10" in first and "ruin (−" in first
    assert "**▼ −" in md  # ruin's loss, marked
    html = (out / "report.html").read_text()
    assert "<div class='verdict'>" in html and "class='loss'" in html
    assert "title='95 % CI" in html  # the interval behind a mark
    assert "## Tests behind the verdict (NDCG@10)" in md


def test_precision_on_validation_is_reported_per_arm(judged):
    out, _ = judged
    results = json.loads((out / "results.json").read_text())
    facts = results["arms"]["mild"]["augmentation"]["0"]["validation"]
    assert 0 <= facts["hits"] <= facts["rows"] and facts["by_chance"] >= 0
    md = (out / "report.md").read_text()
    assert "kept rows on validation items" in md and "(chance " in md


def test_headers_say_what_the_numbers_cover(judged):
    out, _ = judged
    md = (out / "report.md").read_text()
    assert "Split: random-by-user 0.8:0.1:0.1 (train:valid:test); seeds 0, 1, 2" in md
    assert "backends: pop\n" in md  # a label equal to the name is not repeated
    line = next(x for x in md.splitlines() if x.startswith("- User groups"))
    assert "sparse 1–" in line and "(134 users, " in line  # 400 users in thirds
    assert "- Total time: " in md and "one `recaug run`" in md
    # `toy` extends real users: no history-length comparison
    fidelity = md.split("## Synthetic data")[1]
    mild = next(x for x in fidelity.splitlines() if x.startswith("| mild |"))
    assert mild.split(" | ")[2] == "–"


def test_total_time_covers_every_invocation(tmp_path, recaug, write_experiment, test_plugins):
    out = tmp_path / "out"
    assert recaug("run", write_experiment(arm("a", "toy")), "--out", out, "--no-report").code == 0
    first = json.loads((out / "results.json").read_text())["timings"]["total_s"]
    bigger = write_experiment(arm("a", "toy"), arm("b", "toy", options="{ per_user = 1 }"))
    assert recaug("run", bigger, "--out", out).code == 0
    results = json.loads((out / "results.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert results["invocations"] == 2 and len(manifest["invocations"]) == 2
    seconds = [i["seconds"] for i in manifest["invocations"]]
    assert results["timings"]["total_s"] == pytest.approx(sum(seconds), abs=0.5)
    assert results["timings"]["total_s"] > first
    assert "over 2 runs of `recaug run`" in (out / "report.md").read_text()


def test_an_interrupted_run_leaves_partial_results_and_report(
    tmp_path, recaug, write_experiment, test_plugins, monkeypatch
):
    from recaug_app.commands import run

    monkeypatch.setattr(run, "PARTIAL_REPORT_EVERY_S", 0.0)
    out = tmp_path / "out"
    stopping = write_experiment(arm("late", "faulty", options="{ stage = 'interrupt' }"))
    assert recaug("run", stopping, "--out", out).code == 130
    results = json.loads((out / "results.json").read_text())
    assert results["partial"] and results["progress"] == "1 of 4 arm and seed steps finished"
    assert {r["arm"] for r in results["runs"]} == {"baseline"}
    assert "**Partial results** (1 of 4" in (out / "report.md").read_text()
    assert "baseline,pop,0,all,ndcg@10," in (out / "results.csv").read_text()
    fixed = write_experiment(arm("late", "toy", options="{ per_user = 1 }"))
    monkeypatch.setattr(run, "PARTIAL_REPORT_EVERY_S", 1e9)  # the final report only
    assert recaug("run", fixed, "--out", out).code == 0
    done = json.loads((out / "results.json").read_text())
    assert not done["partial"] and done["progress"] is None
    assert "Partial results" not in (out / "report.md").read_text()


def test_a_given_split_from_a_file_in_an_experiment(tmp_path, recaug, write_experiment):
    rows = [(f"u{u}", f"i{(u * 7 + k) % 50}") for u in range(90) for k in range(8)]
    (tmp_path / "data.csv").write_text("user_id,item_id\n" + "".join(f"{u},{i}\n" for u, i in rows))
    parts = ["train"] * 6 + ["valid", "test"]
    (tmp_path / "split.csv").write_text(
        "user_id,item_id,split\n"
        + "".join(f"{u},{i},{parts[n % 8]}\n" for n, (u, i) in enumerate(rows))
    )
    header = HEADER.replace('ref = "demo"', 'ref = "data.csv"').replace(
        "options = { users = 120, items = 60, interactions = 1500 }",
        '\n[split]\nprotocol = "given"\nfile = "split.csv"',
    )
    out = tmp_path / "out"
    result = recaug("run", write_experiment(header=header), "--out", out)
    assert result.code == 0, result.err
    results = json.loads((out / "results.json").read_text())
    assert results["experiment"]["split"]["file"] == str((tmp_path / "split.csv").resolve())
    assert results["splits"]["0"]["test"]["rows"] == 90
    assert "Split: given, from `" in (out / "report.md").read_text()
    missing = header.replace('file = "split.csv"', 'file = "nope.csv"')
    refused = recaug("run", write_experiment(header=missing), "--out", tmp_path / "other")
    assert refused.code == 2 and "split.file: no such file" in refused.err


def test_no_legend_covers_a_bar_or_a_curve(judged):
    from recaug_app.plots import build, overlaps
    from recaug_app.results import load_results

    out, _ = judged
    figures = build(load_results(out))
    assert set(figures) == {"changes-pop", "bars-pop", "groups-pop", "long-tail", "history-lengths"}
    for name, fig in figures.items():
        assert overlaps(fig) == [], name


def test_the_overlap_check_sees_a_legend_on_the_bars():
    from recaug_app.plots import _pyplot, _settle, overlaps

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["a", "b", "c"], [1.0, 1.0, 1.0], label="tall bars")
    ax.plot([0, 2], [0.5, 0.5], label="a line")
    ax.legend(loc="center")
    assert overlaps(fig)
    _settle(fig)  # what the report does: the legend moves beside the axes
    assert overlaps(fig) == []
    plt.close(fig)


def test_a_run_from_the_cache_repeats_every_test_exactly(judged, tmp_path, recaug, test_plugins):
    import shutil

    out, _ = judged
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    again = recaug("run", copy / "experiment.toml", "--out", copy, "--no-report")
    assert again.code == 0, again.err
    assert again.err.count("(cached)") == 9  # 3 arms x 3 seeds, nothing trained
    before = json.loads((out / "results.json").read_text())["summary"]
    assert json.loads((copy / "results.json").read_text())["summary"] == before


def test_the_overlap_check_sees_titles_that_run_into_each_other_or_a_legend():
    from matplotlib.patches import Patch

    from recaug_app.plots import _pyplot, overlaps

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(5, 3))
    for ax in axes:
        ax.set_title("ndcg@10 (a long backend label); * significant")
    fig.tight_layout()
    assert any("runs into the title" in clash for clash in overlaps(fig))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    fig.legend(handles=[Patch(label="a legend as wide as the title")], loc="upper left")
    fig.suptitle("A figure's title", x=0.01, ha="left")
    assert any("runs into a legend" in clash for clash in overlaps(fig))
    plt.close(fig)


def test_an_embedding_report_has_readable_figures(tmp_path, recaug, write_experiment, toy_plugin):
    """Two titles naming `embedding` side by side, and the one-panel history figure (whose
    legend once covered its title)."""
    from recaug_app.plots import build, overlaps
    from recaug_app.results import load_results

    header = HEADER.replace("seeds = [0, 1]", "seeds = [0]").replace(
        'name = "pop"', 'name = "embedding"\noptions = { dim = 8, epochs = 2 }'
    )
    out = tmp_path / "out"
    experiment = write_experiment(arm("toy", "toy"), header=header)
    result = recaug("run", experiment, "--out", out, "--no-report")
    assert result.code == 0, result.err
    for name, fig in build(load_results(out)).items():
        assert overlaps(fig) == [], name
