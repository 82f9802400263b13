"""Statistics over an experiment's results: per-seed values, mean ± spread, change vs baseline.

Numbers are means over seeds ± their (population) standard deviation. The change of an arm is
relative to the baseline's mean. A change "exceeds the spread" when |mean change| is larger
than the standard deviation of the per-seed changes: each seed compares arm and baseline on
the same split with the same training seed, so the per-seed change is the fair unit of noise.
"""

from __future__ import annotations

import numpy as np

from recaug_core.results import BASELINE, ExperimentResults, Summary, SummaryTable
from recaug_core.targets import GROUPS

TABLE_METRICS = ("ndcg", "recall", "hit", "mrr", "coverage", "tail_share")


def metric_values(
    results: ExperimentResults, arm: str, backend: str, metric: str, group: str | None = None
) -> dict[int, float]:
    """{seed: value} of one metric (overall, or for a user group)."""
    out = {}
    for run in results.runs:
        if run.arm == arm and run.backend == backend:
            value = run.metrics.value(metric, group)
            if value is not None:
                out[run.seed] = value
    return out


def summary(
    results: ExperimentResults, arm: str, backend: str, metric: str, group: str | None = None
) -> Summary | None:
    """Mean, std, relative change vs baseline and whether it exceeds the seed spread."""
    values = metric_values(results, arm, backend, metric, group)
    if not values:
        return None
    mine = np.array(list(values.values()))
    out = Summary(mean=float(mine.mean()), std=float(mine.std()), seeds=len(mine))
    base = metric_values(results, BASELINE, backend, metric, group)
    shared = sorted(set(base) & set(values))
    if arm == BASELINE or not shared:
        return out
    diffs = np.array([values[s] - base[s] for s in shared])
    base_mean = float(np.mean([base[s] for s in shared]))
    out.change = None if base_mean == 0 else float(diffs.mean()) / base_mean
    out.exceeds_spread = bool(len(shared) > 1 and abs(diffs.mean()) > diffs.std())
    return out


def summaries(results: ExperimentResults) -> SummaryTable:
    """Every shown metric, per backend and arm, overall and per user group (for results.json)."""
    names = [f"{m}@{k}" for m in TABLE_METRICS for k in results.experiment.ks]
    return {
        backend: {
            arm: {
                "all": {n: summary(results, arm, backend, n) for n in names},
                **{g: {n: summary(results, arm, backend, n, g) for n in names[:2]} for g in GROUPS},
            }
            for arm in results.arms
        }
        for backend in results.backends()
    }
