"""An arm whose strategy and filter come from another distribution (the example plugin, which
CI installs with `pip install -e examples/recaug-example-plugin`), run in a fresh process so
only installed entry points are seen."""

from __future__ import annotations

import json

import pytest
from experiment_files import HEADER, arm

from recaug_core.registry import get_registry


@pytest.fixture
def example_plugin_installed() -> None:
    registry = get_registry()
    if "cooccurrence" not in registry.components("strategies"):
        pytest.skip("recaug-example-plugin is not installed")


def test_arm_from_a_separate_distribution(
    tmp_path, write_experiment, recaug_subprocess, example_plugin_installed
):
    header = HEADER.replace("seeds = [0, 1]", "seeds = [0]")
    path = write_experiment(
        arm("cooc", "cooccurrence", options="{ per_user = 3 }", filters='["age-appropriate"]'),
        header=header,
    )
    out = tmp_path / "out"
    done = recaug_subprocess("run", str(path), "--out", str(out), "--no-report")
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    cooc = results["arms"]["cooc"]
    assert cooc["status"] == "ok"
    assert cooc["augment"]["strategy"] == "cooccurrence"
    assert [f["name"] for f in cooc["augment"]["filters"]] == ["dedupe", "age-appropriate"]
    counts = cooc["augmentation"]["0"]["counts"]
    assert counts["kept"] > 0
    assert {r["arm"] for r in results["runs"]} == {"baseline", "cooc"}
    assert cooc["plugins"]["cooccurrence"] == {
        "plugin": "example",
        "distribution": "recaug-example-plugin",
        "version": "0.1.0",
    }
