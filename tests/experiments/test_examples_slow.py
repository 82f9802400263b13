"""The example experiment as users run it (slow: about 2 minutes on 2 CPU cores; its time is
measured in docs/benchmarks.md, not asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[2] / "examples" / "experiments" / "demo.toml"


@pytest.mark.slow
def test_the_demo_experiment_ends_with_a_verdict_on_each_arm(tmp_path, recaug):
    result = recaug("run", DEMO, "--out", tmp_path / "exp")
    assert result.code == 0, result.err
    results = json.loads((tmp_path / "exp" / "results.json").read_text())
    assert set(results["arms"]) == {"baseline", "rerank", "lora-gen"}
    assert all(state["status"] == "ok" for state in results["arms"].values())
    assert len(results["experiment"]["seeds"]) == 3
    # the rerank arm was chosen on validation, per seed, with `none` among the candidates
    chosen = [run["selection"] for run in results["runs"] if run["arm"] == "rerank"]
    assert len(chosen) == 3 and all(
        c["candidate"] == "none" for s in chosen for c in s["candidates"][:1]
    )
    verdict = (tmp_path / "exp" / "report.md").read_text()
    assert "**Verdict.**" in verdict and "rerank" in verdict and "lora-gen" in verdict
