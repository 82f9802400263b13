"""Files written by recaug 0.1.0 (schema version 1) are still read: results.json is reported,
an augmentation folder evaluated, exported and recognised as finished, and an experiment
folder continued from its caches. Newer schema versions are refused with a clear message.

The fixtures in tests/fixtures/v0.1.0 were written by recaug 0.1.0 running
``recaug run exp.toml --out exp --no-report`` and
``recaug augment demo -s users=120 -s items=60 -s interactions=1500 --strategy seq
-o ops=crop,insert --filter popularity:max_head_share=0.5 --budget 200 --seed 3 --out aug``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "v0.1.0"
AUGMENT = [
    "augment", "demo", "-s", "users=120", "-s", "items=60", "-s", "interactions=1500",
    "--strategy", "seq", "-o", "ops=crop,insert", "--filter", "popularity:max_head_share=0.5",
    "--budget", "200", "--seed", "3",
]  # fmt: skip


def test_report_renders_results_of_version_1(tmp_path, recaug):
    shutil.copy(FIXTURES / "results.json", tmp_path / "results.json")
    result = recaug("report", tmp_path)
    assert result.code == 0, result.err
    report = (tmp_path / "report.md").read_text()
    assert "| seq |" in report and "| baseline |" in report
    assert "dedupe: " in report  # the rows table read the arm's counts


@pytest.fixture
def old_augmentation(tmp_path, recaug):
    """The folder of the fixture's `recaug augment`, with the manifest 0.1.0 wrote."""
    out = tmp_path / "aug"
    assert recaug(*AUGMENT, "--out", out).code == 0
    shutil.copy(FIXTURES / "augment-manifest.json", out / "manifest.json")
    return out


def test_an_augmentation_of_version_1_is_evaluated_exported_and_finished(
    old_augmentation, tmp_path, recaug
):
    evaluated = recaug("evaluate", "--augmented", old_augmentation, "--backend", "pop", "--json")
    assert evaluated.code == 0, evaluated.err
    report = json.loads(evaluated.out)
    assert report["run"]["strategy"]["name"] == "seq"
    assert report["split"]["seed"] == 3
    exported = recaug("export", old_augmentation, "--format", "csv", "--out", tmp_path / "csv")
    assert exported.code == 0, exported.err
    again = recaug(*AUGMENT, "--out", old_augmentation, "--resume")
    assert again.code == 0 and "nothing to do" in again.err


def test_an_experiment_of_version_1_continues_from_its_caches(tmp_path, recaug):
    shutil.copy(FIXTURES / "exp.toml", tmp_path / "exp.toml")
    out = tmp_path / "exp"
    assert recaug("run", tmp_path / "exp.toml", "--out", out, "--no-report").code == 0
    fresh = json.loads((out / "results.json").read_text())["runs"]
    shutil.copy(FIXTURES / "experiment-manifest.json", out / "manifest.json")
    for seed in (0, 1):
        arm = out / "arms" / "seq" / f"seed-{seed}"
        shutil.copy(FIXTURES / f"arm-seq-seed-{seed}-manifest.json", arm / "manifest.json")
    again = recaug("run", tmp_path / "exp.toml", "--out", out, "--no-report")
    assert again.code == 0, again.err
    assert again.err.count("augmentation cached") == 2
    # the caches give back what was computed, and the baseline is what 0.1.0 computed (its
    # overall figures: user groups are thirds now, where 0.1.0 cut at tercile lengths, and
    # the `seq` arm augments that new sparse third)
    new = json.loads((out / "results.json").read_text())["runs"]
    assert [r["metrics"] for r in new] == [r["metrics"] for r in fresh]
    old = json.loads((FIXTURES / "results.json").read_text())["runs"]
    assert [(r["arm"], r["seed"]) for r in new] == [(r["arm"], r["seed"]) for r in old]
    for before, now in zip(old, new, strict=True):
        if now["arm"] == "baseline":
            overall = {k: v for k, v in before["metrics"].items() if "@" in k}
            assert {k: now["metrics"][k] for k in overall} == overall


@pytest.mark.parametrize("name", ["results.json", "manifest.json"])
def test_a_newer_schema_version_is_refused_naming_the_file(tmp_path, recaug, name):
    source = "results.json" if name == "results.json" else "augment-manifest.json"
    content = json.loads((FIXTURES / source).read_text())
    content["schema_version"] = 99
    (tmp_path / name).write_text(json.dumps(content))
    if name == "results.json":
        result = recaug("report", tmp_path)
    else:
        result = recaug("export", tmp_path, "--format", "csv", "--out", tmp_path / "csv")
    assert result.code == 2
    assert str(tmp_path / name) in result.err and "schema version 99" in result.err
