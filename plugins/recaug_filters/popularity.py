"""`popularity`: keep synthetic data from amplifying popularity bias.

Two steps, both optional, in this order:

1. ``target``: subsample the synthetic rows so their spread over popularity bins (items
   sorted by real training popularity, cut into ``bins`` equal groups) follows a target
   curve: ``real`` (the real data's own curve), ``flat`` (every item equally often) or
   ``long-tail`` (item weight 1 / (1 + real popularity)). Filtering can only drop rows, so
   the largest subsample that matches the curve is kept; a bin with no synthetic rows
   cannot be filled and is left out of the curve.
2. ``max_head_share``: cap the share of synthetic rows on head items (the most popular 20%,
   as in evaluation) at a number, or at the real data's head share (``real``).

Rows to drop are picked at random (seeded by the run), so the kept rows keep the shape of
the synthetic data inside each group.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from recaug_core import Context, Dataset, FilterResult, Options, QualityFilter, gini, tail_items
from recaug_filters.rows import split_rows

OVER_TARGET = "popularity: popularity bin over its share of the target curve"
OVER_HEAD_CAP = "popularity: head items over max_head_share"


class PopularityOptions(Options):
    max_head_share: float | Literal["real"] | None = Field(
        default="real",
        description="most synthetic rows on head items (top 20% by real popularity): a share "
        "in [0, 1], 'real' (the real data's head share) or 'none'",
    )
    target: Literal["real", "flat", "long-tail"] | None = Field(
        default=None,
        description="resample synthetic rows to this popularity curve: 'real', 'flat', "
        "'long-tail' or 'none'",
    )
    bins: int = Field(
        default=10, ge=2, le=1000, description="popularity bins that `target` is matched on"
    )

    @field_validator("max_head_share", "target", mode="before")
    @classmethod
    def _none_word(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.lower() in {"none", "off"} else value

    @field_validator("max_head_share")
    @classmethod
    def _share(cls, value: Any) -> Any:
        if isinstance(value, float) and not 0.0 <= value <= 1.0:
            raise ValueError("must be between 0 and 1")
        return value


class PopularityFilter(QualityFilter):
    name = "popularity"
    description = "Caps head-item share or resamples synthetic rows to a target popularity curve."
    Options = PopularityOptions
    options: PopularityOptions

    def apply(self, train: Dataset, synthetic: pa.Table, ctx: Context) -> FilterResult:
        popularity = train.real().item_popularity()
        items = train.item_index.lookup(synthetic.column("item_id"))
        known = items >= 0
        # An item outside the index has no real popularity: it counts as tail, lowest bin.
        head = np.zeros(len(items), dtype=bool)
        head[known] = ~tail_items(train)[items[known]]
        rng = ctx.rng("popularity")
        drop = np.zeros(len(items), dtype=bool)
        over_target = np.zeros(len(items), dtype=bool)
        stats: dict[str, Any] = {}
        if self.options.target is not None:
            bins = _popularity_bins(popularity, self.options.bins)
            row_bin = np.where(known, bins[np.maximum(items, 0)], self.options.bins - 1)
            target = _target_shares(self.options.target, popularity, bins, self.options.bins)
            drop = over_target = _resample(row_bin, target, rng)
            kept_counts = np.bincount(row_bin[~drop], minlength=self.options.bins)
            stats["target_bin_shares"] = _rounded(target)
            stats["kept_bin_shares"] = _rounded(kept_counts / max(kept_counts.sum(), 1))
        real_head_share = float(popularity[~tail_items(train)].sum() / max(popularity.sum(), 1))
        cap = real_head_share if self.options.max_head_share == "real" else None
        if isinstance(self.options.max_head_share, float):
            cap = self.options.max_head_share
        if cap is not None:
            drop |= _cap_head(head & ~drop, ~head & ~drop, cap, rng)
        n_items = train.n_items
        exposure_in = popularity + np.bincount(items[known], minlength=n_items)
        exposure_kept = popularity + np.bincount(items[known & ~drop], minlength=n_items)
        stats.update(
            {
                "real_head_share": round(real_head_share, 4),
                "head_cap": None if cap is None else round(cap, 4),
                "synthetic_head_share_in": _share(head),
                "synthetic_head_share_kept": _share(head[~drop]),
                "gini_real": round(gini(popularity), 4),
                "gini_real_plus_input": round(gini(exposure_in), 4),
                "gini_real_plus_kept": round(gini(exposure_kept), 4),
            }
        )
        which = over_target.astype(np.int8)
        return split_rows(synthetic, drop, [OVER_HEAD_CAP, OVER_TARGET], which, stats=stats)


def _popularity_bins(popularity: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each item: 0 holds the most popular items, equal numbers of items per bin."""
    order = np.argsort(-popularity, kind="stable")
    bins = np.empty(len(popularity), dtype=np.int64)
    bins[order] = np.arange(len(popularity)) * n_bins // max(len(popularity), 1)
    return bins


def _target_shares(
    target: str, popularity: np.ndarray, bins: np.ndarray, n_bins: int
) -> np.ndarray:
    weight = {
        "real": popularity.astype(np.float64),
        "flat": np.ones(len(popularity)),
        "long-tail": 1.0 / (1.0 + popularity),
    }[target]
    shares = np.bincount(bins, weights=weight, minlength=n_bins)
    return shares / max(shares.sum(), 1e-12)


def _resample(row_bin: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drop mask for the largest random subsample whose bin shares follow ``target``."""
    counts = np.bincount(row_bin, minlength=len(target))
    reachable = (counts > 0) & (target > 0)
    drop = np.ones(len(row_bin), dtype=bool)
    if not reachable.any():
        return drop
    share = np.where(reachable, target, 0.0) / target[reachable].sum()
    total = (counts[reachable] / share[reachable]).min()
    quota = np.minimum(np.floor(total * share + 1e-9).astype(np.int64), counts)
    # Random order inside each bin; a row is kept if it comes before its bin's quota.
    order = np.lexsort((rng.random(len(row_bin)), row_bin))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.empty(len(row_bin), dtype=np.int64)
    position[order] = np.arange(len(row_bin)) - starts[row_bin[order]]
    drop[:] = position >= quota[row_bin]
    return drop


def _cap_head(
    head: np.ndarray, tail: np.ndarray, cap: float, rng: np.random.Generator
) -> np.ndarray:
    """Drop mask over head rows so that head / (head + tail) <= cap."""
    n_head, n_tail = int(head.sum()), int(tail.sum())
    allowed = n_head if cap >= 1.0 else int(np.floor(cap / (1.0 - cap) * n_tail + 1e-9))
    drop = np.zeros(len(head), dtype=bool)
    if n_head > allowed:
        rows = np.flatnonzero(head)
        drop[rng.permutation(rows)[allowed:]] = True
    return drop


def _share(mask: np.ndarray) -> float | None:
    return round(float(mask.mean()), 4) if len(mask) else None


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]
