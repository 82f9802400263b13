"""Statistics over an experiment's results: per-seed values, mean ± spread, change vs baseline.

Numbers are means over seeds ± their (population) standard deviation. The change of an arm is
relative to the baseline's mean. A change "exceeds the spread" when |mean change| is larger
than the standard deviation of the per-seed changes: each seed compares arm and baseline on
the same split with the same training seed, so the per-seed change is the fair unit of noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recaug_core.experiment_file import BASELINE
from recaug_core.targets import GROUPS

TABLE_METRICS = ("ndcg", "recall", "hit", "mrr", "coverage", "tail_share")


def metric_values(
    results: dict[str, Any], arm: str, backend: str, metric: str, group: str | None = None
) -> dict[int, float]:
    """{seed: value} of one metric (overall, or for a user group)."""
    out = {}
    for run in results["runs"]:
        if run["arm"] == arm and run["backend"] == backend:
            values = run["metrics"] if group is None else run["metrics"]["groups"][group]
            if metric in values:
                out[int(run["seed"])] = float(values[metric])
    return out


def summary(
    results: dict[str, Any], arm: str, backend: str, metric: str, group: str | None = None
) -> dict[str, Any] | None:
    """Mean, std, relative change vs baseline and whether it exceeds the seed spread."""
    values = metric_values(results, arm, backend, metric, group)
    if not values:
        return None
    mine = np.array(list(values.values()))
    out: dict[str, Any] = {"mean": float(mine.mean()), "std": float(mine.std()), "seeds": len(mine)}
    if arm == BASELINE:
        return out
    base = metric_values(results, BASELINE, backend, metric, group)
    shared = sorted(set(base) & set(values))
    if not shared:
        return out
    diffs = np.array([values[s] - base[s] for s in shared])
    base_mean = float(np.mean([base[s] for s in shared]))
    out["change"] = None if base_mean == 0 else float(diffs.mean()) / base_mean
    out["exceeds_spread"] = bool(len(shared) > 1 and abs(diffs.mean()) > diffs.std())
    return out


def summaries(results: dict[str, Any]) -> dict[str, Any]:
    """Every shown metric, per backend and arm, overall and per user group (for results.json)."""
    out: dict[str, Any] = {}
    for backend in backend_labels(results):
        per_arm: dict[str, Any] = {}
        for arm in results["arms"]:
            names = [f"{m}@{k}" for m in TABLE_METRICS for k in results["experiment"]["ks"]]
            per_arm[arm] = {
                "all": {n: summary(results, arm, backend, n) for n in names},
                **{g: {n: summary(results, arm, backend, n, g) for n in names[:2]} for g in GROUPS},
            }
        out[backend] = per_arm
    return out


def backend_labels(results: dict[str, Any]) -> list[str]:
    return [b["label"] for b in results["experiment"]["backends"]]
