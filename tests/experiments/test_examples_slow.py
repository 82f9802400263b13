"""The example experiment as users run it (slow: about 2 minutes on 2 CPU cores)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[2] / "examples" / "experiments" / "demo.toml"


@pytest.mark.slow
def test_demo_experiment_finishes_within_five_minutes(tmp_path, recaug):
    started = time.perf_counter()
    result = recaug("run", DEMO, "--out", tmp_path / "exp")
    elapsed = time.perf_counter() - started
    assert result.code == 0, result.err
    results = json.loads((tmp_path / "exp" / "results.json").read_text())
    assert len(results["arms"]) == 4 and len(results["experiment"]["seeds"]) == 3
    assert all(state["status"] == "ok" for state in results["arms"].values())
    assert elapsed < 300, f"demo.toml took {elapsed:.0f} s"
