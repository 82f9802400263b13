"""A failing plugin stops its own arm only; nothing an experiment file says writes outside --out."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from experiment_files import arm

from recaug_core import RecaugError
from recaug_core.files import confined, place_write_dirs


@pytest.fixture
def with_faults(tmp_path, recaug, write_experiment, test_plugins):
    path = write_experiment(
        arm("broken-fit", "faulty", options="{ stage = 'fit' }"),
        arm("good", "toy"),
        arm("broken-generate", "faulty"),
        arm("broken-filter", "toy", filters='["faulty-filter"]'),
    )
    out = tmp_path / "out"
    return out, recaug("run", path, "--out", out)


def test_failed_arms_exit_1_after_every_other_arm_finished(with_faults):
    out, result = with_faults
    assert result.code == 1
    results = json.loads((out / "results.json").read_text())
    status = {name: state["status"] for name, state in results["arms"].items()}
    assert status == {
        "baseline": "ok",
        "broken-fit": "failed",
        "good": "ok",
        "broken-generate": "failed",
        "broken-filter": "failed",
    }
    assert {r["arm"] for r in results["runs"]} == {"baseline", "good"}
    assert len([r for r in results["runs"] if r["arm"] == "good"]) == 2  # both seeds


def test_failure_names_plugin_and_stage(with_faults):
    out, result = with_faults
    arms = json.loads((out / "results.json").read_text())["arms"]
    assert arms["broken-fit"]["failed_stage"] == "fit"
    assert arms["broken-generate"]["failed_stage"] == "generate"
    assert arms["broken-filter"]["failed_stage"] == "apply"
    assert "strategy 'faulty' failed in generate" in arms["broken-generate"]["error"]
    assert "planted fault in generate" in arms["broken-generate"]["error"]
    assert "filter 'faulty-filter' failed in apply" in arms["broken-filter"]["error"]
    assert "(plugin 'faulty')" in arms["broken-filter"]["error"]
    assert "arm 'broken-generate' failed in generate" in result.err
    assert "Traceback" not in result.err


def test_report_marks_the_failed_arms(with_faults):
    out, _ = with_faults
    md = (out / "report.md").read_text()
    assert "## Failed arms" in md
    assert "**broken-filter** stopped in apply" in md
    assert "| broken-generate | failed |" in md
    assert "class='failed'" in (out / "report.html").read_text()


def test_a_failed_arm_is_retried_on_the_next_run(
    tmp_path, recaug, write_experiment, test_plugins, with_faults, monkeypatch
):
    import faulty_plugin

    out, _ = with_faults
    # the plugin's author ships a fix; the same experiment file is run again
    fixed = faulty_plugin.CountingStrategy
    monkeypatch.setattr(faulty_plugin.FaultyStrategy, "generate", fixed.generate)
    monkeypatch.setattr(faulty_plugin.FaultyStrategy, "fit", fixed.fit)
    path = tmp_path / "exp.toml"
    assert recaug("run", path, "--out", out).code == 1  # broken-filter still fails
    arms = json.loads((out / "results.json").read_text())["arms"]
    assert arms["broken-generate"]["status"] == "ok" and arms["broken-fit"]["status"] == "ok"
    assert arms["broken-filter"]["status"] == "failed"


@pytest.mark.parametrize(
    ("fixed_arm", "notice"),
    [
        # only the filters changed: the rows generated before are filtered again
        (arm("broken-filter", "toy", filters="[]"), "with other filters; its generated rows"),
        # the strategy's options changed too: nothing in the failed folder is of use
        (
            arm("broken-filter", "toy", options="{ per_user = 2 }", filters="[]"),
            "of other settings (filters, strategy options differ), which nothing here can use",
        ),
    ],
    ids=["filters", "strategy"],
)
def test_a_failed_arm_whose_settings_were_fixed_runs_again(
    tmp_path, recaug, write_experiment, test_plugins, with_faults, fixed_arm, notice
):
    out, _ = with_faults
    fixed = write_experiment(
        arm("broken-fit", "faulty", options="{ stage = 'fit' }"),
        arm("good", "toy"),
        arm("broken-generate", "faulty"),
        fixed_arm,
    )
    result = recaug("run", fixed, "--out", out)
    assert result.code == 1, result.err  # the other broken arms still fail
    arms = json.loads((out / "results.json").read_text())["arms"]
    assert arms["broken-filter"]["status"] == "ok"
    assert f"notice: {out / 'arms/broken-filter/seed-0'}" in result.err
    assert notice in result.err and "filter 'faulty-filter' failed in apply" in result.err


def test_a_finished_arm_with_changed_settings_says_what_to_delete(
    tmp_path, recaug, write_experiment, test_plugins, with_faults
):
    out, _ = with_faults
    changed = write_experiment(arm("good", "toy", options="{ per_user = 5 }"))
    result = recaug("run", changed, "--out", out)
    assert result.code == 2
    assert "arm 'good'" in result.err and "strategy options differ" in result.err
    assert "delete that folder to redo the arm" in result.err
    assert str(out / "arms/good/seed-0") in result.err


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"name": '"../escape"'}, "arms[0].name"),
        ({"name": '"a/b"'}, "arms[0].name"),
        ({"name": '"/tmp/abs"'}, "arms[0].name"),
        ({"name": '".."'}, "arms[0].name"),
        ({"name": '"baseline"'}, "arms[0].name"),
    ],
)
def test_arm_names_that_could_escape_are_refused(tmp_path, recaug, write_experiment, fields, key):
    text = '\n[[arms]]\nstrategy = "seq"\n' + "".join(f"{k} = {v}\n" for k, v in fields.items())
    out = tmp_path / "out"
    result = recaug("run", write_experiment(text), "--out", out)
    assert result.code == 2
    assert result.err.startswith(f"error: exp.toml: {key}: ")
    assert not out.exists() and not (tmp_path / "escape").exists()


def test_backend_labels_are_checked_like_arm_names(tmp_path, recaug, write_experiment):
    header = 'seeds = [0]\n[[backends]]\nname = "pop"\nlabel = "../up"\n'
    result = recaug("run", write_experiment(header=header), "--out", tmp_path / "out")
    assert result.code == 2 and "exp.toml: backends[0].label:" in result.err


@pytest.mark.parametrize("value", ["/tmp/models", "../models", "a/../../b", ""])
def test_folders_to_write_must_stay_inside_out(tmp_path, recaug, write_experiment, value):
    header = (
        f'seeds = [0]\n[[backends]]\nname = "embedding"\noptions = {{ save_dir = "{value}" }}\n'
    )
    result = recaug("run", write_experiment(header=header), "--out", tmp_path / "out")
    assert result.code == 2
    assert "exp.toml: backends[0].options.save_dir:" in result.err
    assert "inside --out" in result.err


def test_relative_write_folders_are_placed_inside_the_arm_folder(tmp_path):
    placed = place_write_dirs({"save_dir": "models", "epochs": 3}, tmp_path / "arm")
    assert placed == {"save_dir": str(tmp_path / "arm" / "models"), "epochs": 3}


def test_confined_refuses_a_symlink_out_of_the_folder(tmp_path):
    root = tmp_path / "out"
    (root / "arms").mkdir(parents=True)
    os.symlink(tmp_path, root / "arms" / "sneaky")
    with pytest.raises(RecaugError, match="outside"):
        confined(root, "arms", "sneaky", "seed-0")
    assert confined(root, "arms", "fine") == root / "arms" / "fine"
    with pytest.raises(RecaugError):
        confined(root, "..", "x")
    assert Path(root).exists()
