"""The evaluation protocol: train a backend, rank ALL items for each test user, score.

- Split first; a backend trains on the training part (plus kept synthetic rows when
  evaluating an augmented run) and may use the validation part for early stopping only.
- Full ranking over every catalog item, only real known items masked (``ranking``).
- Baseline and augmented runs use the same split; ``seeds`` repeats training with other seeds
  and reports mean and standard deviation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from recaug_core.api import Recommender
from recaug_core.data import Dataset
from recaug_core.ranking import rank, score_ranking
from recaug_core.runtime import Context
from recaug_core.split import Split

DEFAULT_KS = (10, 20)


def evaluate_model(
    backend: type[Recommender],
    options: Mapping[str, Any] | None,
    split: Split,
    train: Dataset,
    ks: Sequence[int],
    ctx: Context,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Fit one backend on ``train`` and score it on ``split.test``; returns metrics, timings."""
    model = backend(options)
    started = time.perf_counter()
    model.fit(train, ctx, valid=split.valid)
    fitted = time.perf_counter()
    ranking = rank(model, train, split.test, [split.train, split.valid], max(ks))
    result = score_ranking(ranking, train, ks)
    done = time.perf_counter()
    return result, {"fit_s": fitted - started, "evaluate_s": done - fitted}


def aggregate(per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds; ``std`` mirrors the metrics (population std); ``per_seed`` keeps each."""
    result: dict[str, Any] = _mean(list(per_seed))
    result["std"] = _std(list(per_seed))
    if len(per_seed) > 1:
        result["per_seed"] = [_metrics_only(item) for item in per_seed]
    return result


def _is_metric(key: str) -> bool:
    return "@" in key


def _mean(items: list[Any]) -> Any:
    first = items[0]
    if isinstance(first, dict):
        return {key: _mean([item[key] for item in items]) for key in first}
    if isinstance(first, int) and not isinstance(first, bool) and all(i == first for i in items):
        return first  # counts such as `users` agree across seeds: keep them whole
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return float(np.mean(items))
    return first


def _std(items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in items[0].items():
        if isinstance(value, dict) and key == "groups":
            out[key] = {g: _std([item[key][g] for item in items]) for g in value}
        elif _is_metric(key):
            out[key] = float(np.std([item[key] for item in items]))
    return out


def _metrics_only(item: dict[str, Any]) -> dict[str, float]:
    return {key: value for key, value in item.items() if _is_metric(key)}


def relative_change(
    baseline: Mapping[str, Any], other: Mapping[str, Any]
) -> dict[str, float | None]:
    """(other - baseline) / baseline for every shared numeric metric (None when baseline is 0)."""
    out: dict[str, float | None] = {}
    for key, value in baseline.items():
        if isinstance(value, float) and isinstance(other.get(key), float):
            out[key] = None if value == 0 else (other[key] - value) / value
    return out
