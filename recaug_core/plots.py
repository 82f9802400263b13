"""The report's figures, as PNG bytes. matplotlib (Agg, no display) is imported only here."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from recaug_core.results import BASELINE, ExperimentResults
from recaug_core.stats import summary
from recaug_core.targets import GROUPS


def figures(results: ExperimentResults) -> dict[str, bytes]:
    """{name: PNG} for every figure the results allow."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    k = results.experiment.ks[0]
    arms = results.arm_names(ok_only=True)
    out: dict[str, bytes] = {}
    for backend in results.backends():
        out[f"bars-{backend}"] = _bars(plt, results, backend, arms, k)
        out[f"groups-{backend}"] = _groups(plt, results, backend, arms, k)
    distributions = results.distributions
    if BASELINE in distributions:
        out["long-tail"] = _long_tail(plt, distributions)
        out["history-lengths"] = _lengths(plt, distributions)
    return out


def _png(plt: Any, fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _mean_std(
    results: ExperimentResults, arm: str, backend: str, metric: str, group: str | None = None
) -> tuple[float, float]:
    s = summary(results, arm, backend, metric, group)
    return (s.mean, s.std) if s else (0.0, 0.0)


def _bars(plt: Any, results: ExperimentResults, backend: str, arms: list[str], k: int) -> bytes:
    fig, axes = plt.subplots(1, 2, figsize=(max(6, 1.4 * len(arms) + 3), 3.6))
    for ax, metric in zip(axes, (f"ndcg@{k}", f"recall@{k}")):
        values = [_mean_std(results, arm, backend, metric) for arm in arms]
        colors = ["#888888" if arm == BASELINE else f"C{i}" for i, arm in enumerate(arms)]
        ax.bar(arms, [v[0] for v in values], yerr=[v[1] for v in values], capsize=4, color=colors)
        ax.set_title(f"{metric} ({backend})")
        ax.tick_params(axis="x", rotation=30)
    return _png(plt, fig)


def _groups(plt: Any, results: ExperimentResults, backend: str, arms: list[str], k: int) -> bytes:
    fig, axes = plt.subplots(1, 2, figsize=(max(7, 1.2 * len(arms) + 5), 3.6))
    x = np.arange(len(GROUPS))
    width = 0.8 / max(1, len(arms))
    for ax, metric in zip(axes, (f"ndcg@{k}", f"recall@{k}")):
        for i, arm in enumerate(arms):
            values = [_mean_std(results, arm, backend, metric, g) for g in GROUPS]
            color = "#888888" if arm == BASELINE else f"C{i}"
            ax.bar(x + i * width, [v[0] for v in values], width, yerr=[v[1] for v in values],
                   capsize=3, label=arm, color=color)  # fmt: skip
        ax.set_xticks(x + width * (len(arms) - 1) / 2, [f"{g} users" for g in GROUPS])
        ax.set_title(f"{metric} per user group ({backend})")
    axes[0].legend(fontsize="small")
    return _png(plt, fig)


def _long_tail(plt: Any, distributions: dict[str, Any]) -> bytes:
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (name, dist) in enumerate(distributions.items()):
        curve = dist.get("popularity") or []
        if not curve:
            continue
        label = "real training data" if name == BASELINE else f"{name} (synthetic)"
        style = {"color": "black", "linewidth": 2.2} if name == BASELINE else {"color": f"C{i}"}
        ax.plot(np.linspace(0, 100, len(curve)), curve, label=label, **style)
    ax.set_yscale("log")
    ax.set_xlabel("items ranked by popularity (percentile)")
    ax.set_ylabel("share of interactions")
    ax.set_title("Item popularity long tail: real vs synthetic")
    ax.legend(fontsize="small")
    return _png(plt, fig)


def _lengths(plt: Any, distributions: dict[str, Any]) -> bytes:
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    longest = max(
        (int(length) for d in distributions.values() for length in d.get("lengths", {})), default=1
    )
    bins = np.unique(np.geomspace(1, longest + 1, 30).astype(int))
    for i, (name, dist) in enumerate(distributions.items()):
        lengths = dist.get("lengths") or {}
        if not lengths:
            continue
        values = np.array([int(v) for v in lengths], dtype=float)
        weights = np.array(list(lengths.values()), dtype=float)
        label = "real users" if name == BASELINE else f"{name} (synthetic users)"
        color = "black" if name == BASELINE else f"C{i}"
        ax.hist(values, bins=bins, weights=weights / weights.sum(), histtype="step",
                linewidth=2.2 if name == BASELINE else 1.4, label=label, color=color)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("history length (interactions per user)")
    ax.set_ylabel("share of users")
    ax.set_title("User history lengths")
    ax.legend(fontsize="small")
    return _png(plt, fig)
