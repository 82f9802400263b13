"""`recaug run` end to end on a small demo world with the `pop` backend."""

from __future__ import annotations

import json
import re

import pytest
from experiment_files import arm

TWO_ARMS = (arm("toy-2", "toy", options="{ per_user = 2 }"), arm("toy-all", "toy", target='"all"'))


@pytest.fixture
def finished(tmp_path, recaug, write_experiment, test_plugins):
    path = write_experiment(*TWO_ARMS)
    out = tmp_path / "out"
    result = recaug("run", path, "--out", out)
    assert result.code == 0, result.err
    return out, result


def test_results_cover_every_arm_backend_seed_and_group(finished):
    out, _ = finished
    results = json.loads((out / "results.json").read_text())
    runs = {(r["arm"], r["backend"], r["seed"]) for r in results["runs"]}
    assert runs == {(a, "pop", s) for a in ("baseline", "toy-2", "toy-all") for s in (0, 1)}
    some = results["runs"][0]["metrics"]
    assert {"ndcg@10", "recall@20"} <= set(some)
    assert set(some["groups"]) == {"sparse", "medium", "dense"}
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0] == "arm,backend,seed,group,metric,value"
    assert any(line.startswith("toy-all,pop,1,sparse,ndcg@10,") for line in csv_lines)


def test_arms_share_one_split_per_seed(finished):
    out, _ = finished
    for seed in (0, 1):
        a = (out / "arms" / "toy-2" / f"seed-{seed}" / "split.parquet").read_bytes()
        b = (out / "arms" / "toy-all" / f"seed-{seed}" / "split.parquet").read_bytes()
        assert a == b
    assert (out / "arms/toy-2/seed-0/split.parquet").read_bytes() != (
        out / "arms/toy-2/seed-1/split.parquet"
    ).read_bytes()


def test_each_arm_folder_is_a_run_folder_evaluate_can_read(finished, recaug):
    out, _ = finished
    result = recaug("evaluate", "--augmented", out / "arms/toy-2/seed-0", "--backend", "pop")
    assert result.code == 0, result.err


def test_report_has_every_section_and_embeds_its_figures(finished):
    out, _ = finished
    md = (out / "report.md").read_text()
    assert md.startswith("# recaug experiment report\n\n> **Verdict.** ")
    for section in (
        "## Headline",
        "## Metrics: pop",
        "## User groups: pop",
        "## Tests behind the verdict",
        "## Synthetic data: fidelity and privacy",
        "## Rows generated, kept and rejected",
        "## Time per stage",
    ):
        assert section in md
    assert "± " in md and re.search(r"\([+−]\d+\.\d%\)|\(\*\*[▲▼] [+−]", md)
    figures = ("changes-pop", "bars-pop", "groups-pop", "long-tail", "history-lengths")
    for figure in figures:
        assert (out / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"figures/{figure}.png" in md
    html = (out / "report.html").read_text()
    assert html.count("src='data:image/png;base64,") == len(figures)
    assert "src='figures" not in html and "http" not in html


def test_progress_is_shown_per_arm_on_stderr(finished):
    _, result = finished
    assert "arm toy-2" in result.err and "arm toy-all" in result.err
    assert result.out.strip().endswith("results.json")


def test_second_run_reuses_every_arm(tmp_path, recaug, write_experiment, test_plugins):
    import faulty_plugin

    path = write_experiment(arm("counted", "counting"))
    out = tmp_path / "out"
    assert recaug("run", path, "--out", out, "--no-report").code == 0
    assert faulty_plugin.GENERATED == {"seed-0": 1, "seed-1": 1}
    synthetic = out / "arms/counted/seed-0/synthetic.parquet"
    evaluation = out / "arms/baseline/seed-1/eval/pop.json"
    stamps = (synthetic.stat().st_mtime_ns, evaluation.stat().st_mtime_ns)
    again = recaug("run", path, "--out", out, "--no-report")
    assert again.code == 0, again.err
    assert faulty_plugin.GENERATED == {"seed-0": 1, "seed-1": 1}
    assert (synthetic.stat().st_mtime_ns, evaluation.stat().st_mtime_ns) == stamps
    assert "augmentation cached" in again.err and "(cached)" in again.err


def test_arm_added_later_is_the_only_work_done(tmp_path, recaug, write_experiment, test_plugins):
    import faulty_plugin

    out = tmp_path / "out"
    assert (
        recaug("run", write_experiment(arm("toy-2", "toy")), "--out", out, "--no-report").code == 0
    )
    bigger = write_experiment(arm("toy-2", "toy"), arm("counted", "counting"))
    result = recaug("run", bigger, "--out", out, "--no-report")
    assert result.code == 0, result.err
    assert faulty_plugin.GENERATED == {"seed-0": 1, "seed-1": 1}
    assert result.err.count("augmentation cached") == 2  # toy-2 for both seeds


def test_interrupted_run_continues_where_it_stopped(
    tmp_path, recaug, write_experiment, test_plugins
):
    out = tmp_path / "out"
    stopping = write_experiment(
        arm("toy-2", "toy"), arm("late", "faulty", options="{ stage = 'interrupt' }")
    )
    stopped = recaug("run", stopping, "--out", out, "--no-report")
    assert stopped.code == 130
    assert f"{out} keeps every finished arm and seed: to continue, run the same command" in (
        stopped.err
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    done = out / "arms/toy-2/seed-0/synthetic.parquet"
    stamp = done.stat().st_mtime_ns
    assert json.loads((out / "results.json").read_text())["partial"]  # what it finished
    fixed = write_experiment(arm("toy-2", "toy"), arm("late", "toy", options="{ per_user = 1 }"))
    result = recaug("run", fixed, "--out", out, "--no-report")
    assert result.code == 0, result.err
    assert done.stat().st_mtime_ns == stamp
    assert json.loads((out / "manifest.json").read_text())["status"] == "done"


def test_changed_arm_settings_under_the_same_name_are_refused(
    tmp_path, recaug, write_experiment, test_plugins
):
    out = tmp_path / "out"
    assert recaug("run", write_experiment(arm("a", "toy")), "--out", out, "--no-report").code == 0
    changed = write_experiment(arm("a", "toy", options="{ per_user = 5 }"))
    result = recaug("run", changed, "--out", out, "--no-report")
    assert result.code == 2
    assert "arm 'a'" in result.err and "other settings" in result.err


def test_other_data_in_the_same_out_is_refused(tmp_path, recaug, write_experiment, test_plugins):
    out = tmp_path / "out"
    assert recaug("run", write_experiment(), "--out", out, "--no-report").code == 0
    other = write_experiment(header=HEADER_OTHER_DATA)
    result = recaug("run", other, "--out", out, "--no-report")
    assert result.code == 2 and "another data" in result.err


def test_out_holding_something_else_is_refused(tmp_path, recaug, write_experiment):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = recaug("run", write_experiment(), "--out", out)
    assert result.code == 2 and "not empty" in result.err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_report_command_renders_again_from_results(finished, recaug):
    out, _ = finished
    (out / "report.md").unlink()
    (out / "report.html").unlink()
    result = recaug("report", out)
    assert result.code == 0, result.err
    assert "## Metrics: pop" in (out / "report.md").read_text()
    assert (out / "report.html").exists()


def test_report_of_a_folder_without_results_is_a_usage_error(tmp_path, recaug):
    result = recaug("report", tmp_path)
    assert result.code == 2 and "results.json" in result.err


HEADER_OTHER_DATA = """\
seeds = [0, 1]

[dataset]
ref = "demo"
options = { users = 100, items = 60, interactions = 1500 }

[[backends]]
name = "pop"
"""


def test_report_without_matplotlib_keeps_the_tables(finished, recaug, monkeypatch):
    import sys

    out, _ = finished
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, "recaug_app.plots", raising=False)
    (out / "report.md").unlink()
    assert recaug("report", out).code == 0
    md = (out / "report.md").read_text()
    assert "## Metrics: pop" in md and "install matplotlib" in md and "![" not in md


def test_help_imports_neither_torch_nor_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys; from recaug_app.cli import invoke; invoke(['run', '--help']); "
        "invoke(['report', '--help']); "
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("[]")


def test_bad_data_leaves_no_output_folder(tmp_path, recaug, write_experiment):
    (tmp_path / "broken.csv").write_text("user_id,item_id\nu1,i1\nu2\n")
    header = HEADER_OTHER_DATA.replace('ref = "demo"', 'ref = "broken.csv"').replace(
        "options = { users = 100, items = 60, interactions = 1500 }", ""
    )
    out = tmp_path / "out"
    result = recaug("run", write_experiment(header=header), "--out", out)
    assert result.code == 2
    assert "broken.csv" in result.err and "line 3" in result.err
    assert not out.exists()


def test_second_run_into_a_folder_in_use_stops_at_once(tmp_path, recaug, write_experiment):
    import os
    import socket

    out = tmp_path / "out"
    out.mkdir()
    (out / ".lock").write_text(f"{os.getppid()} {socket.gethostname()}\n")  # a live process
    result = recaug("run", write_experiment(), "--out", out, "--no-report")
    assert result.code == 2 and "in use by another recaug run" in result.err
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_data_given_on_the_command_line_replaces_the_files(
    tmp_path, recaug, write_experiment, test_plugins
):
    rows = [(f"u{u}", f"i{(u * 7 + k) % 50}") for u in range(80) for k in range(8)]
    data = tmp_path / "mine.csv"
    data.write_text("user_id,item_id\n" + "".join(f"{u},{i}\n" for u, i in rows))
    path = write_experiment(arm("toy-2", "toy"))
    out = tmp_path / "out"
    result = recaug("run", path, "--out", out, "--data", data, "--no-report")
    assert result.code == 0, result.err
    results = json.loads((out / "results.json").read_text())
    assert results["data"]["ref"] == str(data.resolve())
    missing = recaug("run", path, "--out", tmp_path / "o2", "--data", tmp_path / "nope.csv")
    assert missing.code == 2 and "nope.csv" in missing.err


def test_run_json_gives_the_verdict_each_change_and_the_files(finished, recaug, write_experiment):
    out, _ = finished
    result = recaug("run", write_experiment(*TWO_ARMS), "--out", out, "--json")  # from cache
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["results"] == str(out / "results.json")
    assert report["report"] == [str(out / "report.md"), str(out / "report.html")]
    verdict = report["verdict"]
    assert verdict["sentence"].startswith("On NDCG@10")
    judged = verdict["helped"] + verdict["hurt"] + verdict["mixed"] + verdict["no_difference"]
    assert sorted(judged + verdict["untested"]) == ["toy-2", "toy-all"]
    assert set(report["summary"]["pop"]) == {"baseline", "toy-2", "toy-all"}
    assert report["summary"]["pop"]["toy-2"]["all"]["ndcg@10"]["change"] is not None
    assert report["failed_arms"] == []


def test_a_cached_evaluation_of_other_settings_names_what_differs(
    tmp_path, recaug, write_experiment, test_plugins
):
    out = tmp_path / "out"
    assert recaug("run", write_experiment(), "--out", out, "--no-report").code == 0
    from experiment_files import HEADER

    other_ks = write_experiment(header=HEADER.replace("ks = [10, 20]", "ks = [5, 10]"))
    result = recaug("run", other_ks, "--out", out, "--no-report")
    assert result.code == 2
    assert "computed with other settings (settings.ks differs)" in result.err
