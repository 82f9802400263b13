"""The report's figures, as PNG bytes. matplotlib (Agg, no display) is imported only here.

Every legend sits outside the plotting area, and ``overlaps`` checks each figure before it is
saved: a legend that would still cover a bar or a curve is moved beside the axes. It also
reports titles and legends that run into one another or past the figure's edge, which the
tests hold every figure to.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from recaug_app.results import BASELINE, ExperimentResults
from recaug_app.stats import ALL, cell
from recaug_core.targets import GROUPS

GAIN, LOSS, NEUTRAL, REAL_COLOR = "#17803d", "#c0262d", "#8a8a8a", "#555555"


def figures(results: ExperimentResults) -> dict[str, bytes]:
    """{name: PNG} for every figure the results allow."""
    plt = _pyplot()
    out = {}
    for name, fig in build(results).items():
        out[name] = _png(plt, fig)
    return out


def build(results: ExperimentResults) -> dict[str, Any]:
    """{name: matplotlib Figure} (laid out, legends checked), before they become PNG."""
    plt = _pyplot()
    k = results.experiment.ks[0]
    arms = results.arm_names(ok_only=True)
    colors = {arm: _arm_color(i, arm) for i, arm in enumerate(results.arm_names())}
    out: dict[str, Any] = {}
    for backend in results.backends():
        if len(arms) > 1:
            out[f"changes-{backend}"] = _changes(plt, results, backend, arms, k)
        out[f"bars-{backend}"] = _bars(plt, results, backend, arms, k, colors)
        out[f"groups-{backend}"] = _groups(plt, results, backend, arms, k, colors)
    distributions = results.distributions
    if BASELINE in distributions:
        out["long-tail"] = _long_tail(plt, distributions, colors)
        out["history-lengths"] = _lengths(plt, distributions, colors)
    for fig in out.values():
        _settle(fig)
    return out


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _arm_color(position: int, arm: str) -> str:
    # tab10 without its grey (C7), which is the baseline's
    palette = ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9"]
    return NEUTRAL if arm == BASELINE else palette[(position - 1) % len(palette)]


def _png(plt: Any, fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


# -- legends that cover nothing -----------------------------------------------------------------


def overlaps(fig: Any) -> list[str]:
    """What each legend of ``fig`` covers (bars or other patches, and curve points of every
    axes), and titles and legends that run into one another or past the figure's edge, in
    display coordinates. Empty when everything can be read."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]
    found = _text_clashes(fig, renderer)
    for legend in filter(None, legends):
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            clip = ax.get_window_extent(renderer)
            for patch in ax.patches:
                extent = patch.get_window_extent(renderer)
                if extent.width * extent.height > 0 and _intersect(box, extent, clip):
                    found.append(f"legend covers a bar of '{ax.get_title()}'")
                    break
            for line in ax.get_lines():
                points = line.get_transform().transform(np.asarray(line.get_xydata()))
                inside = (
                    (points[:, 0] > box.x0)
                    & (points[:, 0] < box.x1)
                    & (points[:, 1] > box.y0)
                    & (points[:, 1] < box.y1)
                    & (points[:, 0] >= clip.x0)
                    & (points[:, 0] <= clip.x1)
                    & (points[:, 1] >= clip.y0)
                    & (points[:, 1] <= clip.y1)
                )
                if inside.any():
                    found.append(f"legend covers the curve '{line.get_label()}'")
                    break
    return found


def _text_clashes(fig: Any, renderer: Any) -> list[str]:
    """Titles (of each axes and of the figure) and figure legends that overlap one another or
    are cut off by the figure's edge."""
    boxes = [
        (f"the title '{ax.get_title()}'", ax.title.get_window_extent(renderer))
        for ax in fig.axes
        if ax.get_visible() and ax.get_title()
    ]
    if fig.get_suptitle():
        boxes.append(
            (f"the title '{fig.get_suptitle()}'", fig._suptitle.get_window_extent(renderer))
        )
    boxes += [("a legend", legend.get_window_extent(renderer)) for legend in fig.legends]
    found = [
        f"{name} runs into {other}"
        for i, (name, box) in enumerate(boxes)
        for other, second in boxes[i + 1 :]
        if _intersect(box, second, fig.bbox)
    ]
    edge = fig.bbox
    found += [
        f"{name} is cut off by the figure's edge"
        for name, box in boxes
        if box.x0 < edge.x0 - 1 or box.x1 > edge.x1 + 1 or box.y1 > edge.y1 + 1
    ]
    return found


def _intersect(a: Any, b: Any, clip: Any) -> bool:
    """Whether boxes ``a`` and ``b`` share area inside ``clip`` (the axes: a bar's hidden part
    beyond the axes does not count)."""
    x0, x1 = max(a.x0, b.x0, clip.x0), min(a.x1, b.x1, clip.x1)
    y0, y1 = max(a.y0, b.y0, clip.y0), min(a.y1, b.y1, clip.y1)
    return x1 - x0 > 1 and y1 - y0 > 1


def _settle(fig: Any) -> None:
    """Should a legend of the laid-out figure cover data, move it beside its axes."""
    if not overlaps(fig):
        return
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            handles, labels = ax.get_legend_handles_labels()
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      fontsize="small", frameon=False)  # fmt: skip
    fig.tight_layout()


# -- the figures --------------------------------------------------------------------------------


def _mean_std(
    results: ExperimentResults, arm: str, backend: str, metric: str, group: str = ALL
) -> tuple[float, float]:
    s = cell(results, backend, arm, metric, group)
    return (s.mean, s.std) if s else (0.0, 0.0)


def _changes(plt: Any, results: ExperimentResults, backend: str, arms: list[str], k: int) -> Any:
    """Each arm's relative change of NDCG@K with its 95 % interval, overall and for sparse
    users: green / red where the test finds it significant after correction, grey otherwise."""
    shown = [a for a in arms if a != BASELINE]
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 0.55 * len(shown) + 1.6), sharey=True)
    y = np.arange(len(shown))[::-1]
    for ax, (group, title) in zip(axes, ((ALL, "all users"), ("sparse", "sparse users"))):
        for row, arm in zip(y, shown):
            s = cell(results, backend, arm, f"ndcg@{k}", group)
            if s is None or s.change is None:
                continue
            test = s.significance
            color = NEUTRAL
            if test is not None and test.significant:
                color = GAIN if s.change > 0 else LOSS
            if test is not None:
                ax.plot([100 * test.ci_low, 100 * test.ci_high], [row, row], color=color, lw=2.2)
            ax.plot([100 * s.change], [row], "o", color=color, ms=7)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"ndcg@{k}, {title} ({backend}); grey: not significant", fontsize="medium")
        ax.set_xlabel("change vs baseline, % (95 % interval before correction)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, shown)
    axes[0].set_ylim(-0.7, len(shown) - 0.3)
    fig.tight_layout()
    return fig


def _bars(
    plt: Any,
    results: ExperimentResults,
    backend: str,
    arms: list[str],
    k: int,
    colors: dict[str, str],
) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 1.3 * len(arms) + 3), 3.6))
    for ax, metric in zip(axes, (f"ndcg@{k}", f"recall@{k}")):
        values = [_mean_std(results, arm, backend, metric) for arm in arms]
        means = [v[0] for v in values]
        bars = ax.bar(arms, means, yerr=[v[1] for v in values], capsize=4,
                      color=[colors[a] for a in arms])  # fmt: skip
        for bar, arm in zip(bars, arms):
            s = cell(results, backend, arm, metric)
            if s is None or s.change is None:
                continue
            marked = s.significance is not None and s.significance.significant
            tone = (GAIN if s.change > 0 else LOSS) if marked else NEUTRAL
            label = f"{s.change:+.1%}".replace("-", "−") + (" *" if marked else "")
            ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        xytext=(0, 8), textcoords="offset points", ha="center",
                        fontsize="small", color=tone)  # fmt: skip
        ax.set_ylim(0, max(means, default=1.0) * 1.2 or 1.0)
        ax.set_title(f"{metric} ({backend})\n* significant", fontsize="medium")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def _groups(
    plt: Any,
    results: ExperimentResults,
    backend: str,
    arms: list[str],
    k: int,
    colors: dict[str, str],
) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(max(8.0, 1.1 * len(arms) + 6), 3.9))
    x = np.arange(len(GROUPS))
    width = 0.8 / max(1, len(arms))
    for ax, metric in zip(axes, (f"ndcg@{k}", f"recall@{k}")):
        for i, arm in enumerate(arms):
            values = [_mean_std(results, arm, backend, metric, g) for g in GROUPS]
            ax.bar(x + i * width, [v[0] for v in values], width, yerr=[v[1] for v in values],
                   capsize=3, label=arm, color=colors[arm])  # fmt: skip
        ax.set_xticks(x + width * (len(arms) - 1) / 2, [f"{g} users" for g in GROUPS])
        ax.set_title(f"{metric} per user group ({backend})")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(arms), 6), frameon=False,
               fontsize="small", bbox_to_anchor=(0.5, 1.0))  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def _long_tail(plt: Any, distributions: dict[str, Any], colors: dict[str, str]) -> Any:
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    for name, dist in distributions.items():
        curve = dist.get("cumulative_popularity")
        if curve is None and dist.get("popularity"):  # results of recaug 0.1.0: item shares
            curve = [0.0, *np.cumsum(dist["popularity"]) / np.sum(dist["popularity"])]
        if not curve:
            continue
        real = name == BASELINE
        label = "real training rows" if real else f"{name} (kept synthetic rows)"
        style = {"color": "black", "linewidth": 2.4} if real else {"color": colors.get(name)}
        ax.plot(np.linspace(0, 100, len(curve)), curve, label=label, **style)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("items, most popular first (% of the catalog)")
    ax.set_ylabel("cumulative share of rows")
    ax.set_title("Item popularity: how concentrated each arm's rows are")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    fig.tight_layout()
    return fig


def _lengths(plt: Any, distributions: dict[str, Any], colors: dict[str, str]) -> Any:
    """One panel per arm: the real users' history lengths (grey) against the arm's new
    synthetic users, or the real users' histories after the arm extended them."""
    real = _histogram_values(distributions[BASELINE].get("lengths") or {})
    arms = [a for a in distributions if a != BASELINE]
    longest = max(
        [int(v) for d in distributions.values() for key in ("lengths", "lengths_after")
         for v in (d.get(key) or {})] or [1]
    )  # fmt: skip
    bins = np.unique(np.geomspace(1, longest + 1, 25).astype(int))
    panels = max(1, len(arms))
    columns = min(panels, 3)
    rows = -(-panels // columns)
    # above the panels: the figure's title, then the legend (one entry a line when narrow)
    legend_columns = 2 if columns > 1 else 1
    header = 0.3 + 0.22 * (2 // legend_columns)  # inches
    height = 3.1 * rows + header
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, height),
                             squeeze=False, sharex=True, sharey=True)  # fmt: skip
    top = 0.0
    for position, ax in enumerate(axes.flat):
        if position >= panels:
            ax.set_visible(False)
            continue
        heights, _, _ = ax.hist(real[0], bins=bins, weights=real[1], color="#cccccc")
        top = max(top, float(np.max(heights, initial=0)))
        if arms:
            arm = arms[position]
            dist = distributions[arm]
            shown: list[str] = []
            for key, what, style in (
                ("lengths_after", "real users after it", "-"),
                ("lengths", "new users", "--"),
            ):
                values = _histogram_values(dist.get(key) or {})
                if not len(values[0]):
                    continue
                heights, _, _ = ax.hist(values[0], bins=bins, weights=values[1],
                                        histtype="step", linewidth=2, linestyle=style,
                                        color=colors.get(arm))  # fmt: skip
                top = max(top, float(np.max(heights, initial=0)))
                shown.append(what if not shown else f"{what} (dashed)")
            ax.set_title(f"{arm}: {', '.join(shown) or 'no rows'}", fontsize="medium")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("history length (interactions per user)")
    for ax in axes[:, 0]:
        ax.set_ylabel("share of users")
    axes[0, 0].set_ylim(0, top * 1.15 if top else 1.0)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Patch(color="#cccccc", label="real users (training data)"),
        Line2D([], [], color="black", lw=2, label="the arm (outline; see each title)"),
    ]
    fig.suptitle("User history lengths", fontsize="medium", x=0.01, y=0.995, ha="left", va="top")
    below_title = 1 - 0.3 / height
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, below_title),
               ncol=legend_columns, frameon=False, fontsize="small")  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 1 - header / height))
    return fig


def _histogram_values(lengths: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(lengths, weights summing to 1) of a {length: users} histogram."""
    values = np.array([int(v) for v in lengths], dtype=float)
    weights = np.array(list(lengths.values()), dtype=float)
    return values, weights / weights.sum() if weights.sum() else weights
