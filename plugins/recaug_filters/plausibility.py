"""`plausibility`: keep the synthetic rows a recommender trained on real data finds plausible.

Like the denoising step of LLMRec, a backend is trained on the real training split (less a
``valid_share`` of each user's rows, held out for the backend's early stopping) and each
synthetic (user, item) pair is ranked among ALL catalog items for that user. The rank is
normalised to a percentile (0 = the user's top item, 1 = the bottom one; ties share their
middle rank). ``mode=plausible`` keeps the best-ranked rows; ``mode=hard`` keeps the
worst-ranked ones, which is what LLMRec's code does when it keeps the highest-loss pairs.

A row of a new synthetic user is ranked for its ``parent_user``; rows that cannot be ranked
(no real history for the user nor a parent, or an item outside the catalog) follow
``unscored``. A backend trained on the same training split with the same options and seed
earlier in this process is reused, not trained again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from recaug_core import (
    Context,
    Dataset,
    FilterResult,
    Options,
    OptionsError,
    QualityFilter,
    RecaugError,
    Recommender,
    SplitSpec,
    arrays,
    component_class,
    create,
    parse_pairs,
    seed_everything,
    split_dataset,
)
from recaug_filters.rows import split_rows

IMPLAUSIBLE = "plausibility: ranks too low for the user"
TOO_EASY = "plausibility: ranks too high for the user (mode=hard)"
UNSCORED = "plausibility: cannot be ranked (no real history for the user or its parent)"
UNKNOWN_ITEM = "plausibility: cannot be ranked (item not in the catalog)"
# Bound the dense score blocks: users per score() call, and rows x items per comparison.
MAX_BLOCK = 1 << 22


class PlausibilityOptions(Options):
    backend: str = Field(
        default="embedding", description="recommender backend that ranks items (see list backends)"
    )
    backend_options: dict[str, Any] = Field(
        default_factory=dict,
        description="options of the backend; on the command line as 'key=value;key=value'",
    )
    valid_share: float = Field(
        default=0.1,
        ge=0.0,
        lt=1.0,
        description="share of each user's real training rows held out for the backend's "
        "early stopping (0: train on all of them for the backend's full epochs)",
    )
    keep: Literal["top-fraction", "threshold"] = Field(
        default="top-fraction",
        description="'top-fraction': keep the best `fraction` of the ranked rows; "
        "'threshold': keep rows whose rank percentile is within `threshold`",
    )
    fraction: float = Field(
        default=0.8, gt=0.0, le=1.0, description="share of ranked rows kept (keep=top-fraction)"
    )
    threshold: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description="keep rows whose item is in the user's top `threshold` share of the catalog "
        "(mode=hard: in the bottom share) (keep=threshold)",
    )
    mode: Literal["plausible", "hard"] = Field(
        default="plausible",
        description="'plausible': keep the best-ranked rows; 'hard': keep the worst-ranked "
        "rows (hard examples, as LLMRec's highest-loss pairs)",
    )
    unscored: Literal["keep", "reject"] = Field(
        default="keep", description="what to do with rows that cannot be ranked"
    )

    @field_validator("backend_options", mode="before")
    @classmethod
    def _parse_pairs(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return parse_pairs(p for p in value.split(";") if p.strip())


class PlausibilityFilter(QualityFilter):
    name = "plausibility"
    description = "Keeps synthetic rows a backend trained on real data ranks high for the user."
    Options = PlausibilityOptions
    options: PlausibilityOptions

    def __init__(self, options: Mapping[str, Any] | PlausibilityOptions | None = None) -> None:
        super().__init__(options)
        # Check the backend and its options now, before any data is read.
        try:
            backend = component_class("backends", self.options.backend)
            backend.parse_options(self.options.backend_options)
        except RecaugError as exc:
            raise OptionsError(f"option 'backend' of filter '{self.name}': {exc}") from None

    def apply(self, train: Dataset, synthetic: pa.Table, ctx: Context) -> FilterResult:
        opts = self.options
        model, fit_s, reused = fitted_backend(
            opts.backend, opts.backend_options, opts.valid_share, train, ctx
        )
        scorer, items = _scoring_rows(train, synthetic)
        ranked = (scorer >= 0) & (items >= 0)
        percentile = np.full(synthetic.num_rows, np.nan)
        percentile[ranked] = rank_percentiles(model, scorer[ranked], items[ranked], train.n_items)
        # Lower is kept: the percentile itself, or its mirror for hard examples.
        badness = percentile if self.options.mode == "plausible" else 1.0 - percentile
        keep = self._keep(badness, ranked)
        reject_unscored = self.options.unscored == "reject"
        drop = np.where(ranked, ~keep, reject_unscored)
        ranked_reason = IMPLAUSIBLE if self.options.mode == "plausible" else TOO_EASY
        which = np.where(ranked, 0, np.where(items < 0, 1, 2)).astype(np.int8)
        kept_ranked = ranked & ~drop
        return split_rows(
            synthetic,
            drop,
            [ranked_reason, UNKNOWN_ITEM, UNSCORED],
            which,
            stats={
                "backend": self.options.backend,
                "backend_fit_s": round(fit_s, 4),
                "backend_reused": reused,
                "ranked": int(ranked.sum()),
                "unscored": int((~ranked).sum()),
                "median_percentile_in": _median(percentile[ranked]),
                "median_percentile_kept": _median(percentile[kept_ranked]),
                "median_percentile_rejected": _median(percentile[ranked & drop]),
            },
        )

    def _keep(self, badness: np.ndarray, ranked: np.ndarray) -> np.ndarray:
        keep = np.zeros(len(badness), dtype=bool)
        if self.options.keep == "threshold":
            keep[ranked] = badness[ranked] <= self.options.threshold
            return keep
        rows = np.flatnonzero(ranked)
        n_keep = int(np.ceil(self.options.fraction * len(rows) - 1e-9))
        # Stable sort: among equally ranked rows the earlier ones stay (deterministic).
        best = rows[np.argsort(badness[rows], kind="stable")[:n_keep]]
        keep[best] = True
        return keep


def _scoring_rows(train: Dataset, synthetic: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the user index to rank for (the user, else its parent; -1: none) and
    the item index (-1: not in the catalog)."""
    has_history = train.real().user_lengths() > 0
    user = train.user_index.lookup(synthetic.column("user_id"))
    parent = train.user_index.lookup(synthetic.column("parent_user"))
    user_ok = (user >= 0) & has_history[np.maximum(user, 0)]
    parent_ok = (parent >= 0) & has_history[np.maximum(parent, 0)]
    scorer = np.where(user_ok, user, np.where(parent_ok, parent, -1))
    return scorer, train.item_index.lookup(synthetic.column("item_id"))


def rank_percentiles(
    model: Recommender, users: np.ndarray, items: np.ndarray, n_items: int
) -> np.ndarray:
    """Percentile rank (0 best, 1 worst) of ``items[r]`` among all items for ``users[r]``.

    Each distinct user is scored once, in batches. A row's rank counts the items scored
    higher, plus half of the others scored the same (ties share their middle rank).
    """
    out = np.empty(len(users), dtype=np.float64)
    if len(users) == 0:
        return out
    distinct, row_user = arrays.unique_inverse(users)
    order = np.argsort(row_user, kind="stable")
    starts = np.searchsorted(row_user[order], np.arange(len(distinct) + 1))
    user_batch = max(1, min(1024, MAX_BLOCK // max(n_items, 1)))
    scale = max(n_items - 1, 1)
    for first in range(0, len(distinct), user_batch):
        last = min(first + user_batch, len(distinct))
        scores = np.asarray(model.score(distinct[first:last]), dtype=np.float32)
        rows = order[starts[first] : starts[last]]
        block_rows = row_user[rows] - first
        # Ranking a user's whole row costs about log2(n_items) comparisons per item, counting
        # the items above one row's item costs two: sort when users have many rows each.
        if 2 * len(rows) >= (last - first) * np.log2(max(n_items, 2)):
            # Imported here: scipy.stats takes about a second to import, and this module is
            # imported whenever plugins are listed or any command starts.
            from scipy.stats import rankdata

            ranks = rankdata(-scores, axis=1, method="average") - 1.0
            out[rows] = ranks[block_rows, items[rows]] / scale
        else:
            out[rows] = _ranks_by_counting(scores, block_rows, items[rows]) / scale
    return out


def _ranks_by_counting(scores: np.ndarray, block_rows: np.ndarray, items: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(items), dtype=np.float64)
    chunk = max(1, MAX_BLOCK // max(scores.shape[1], 1))
    for begin in range(0, len(items), chunk):
        block = scores[block_rows[begin : begin + chunk]]
        own = block[np.arange(len(block)), items[begin : begin + chunk]][:, None]
        higher = np.count_nonzero(block > own, axis=1)
        same = np.count_nonzero(block == own, axis=1)
        ranks[begin : begin + chunk] = higher + (same - 1) / 2.0
    return ranks


_fitted: dict[str, Recommender] = {}


def fitted_backend(
    name: str, options: dict[str, Any], valid_share: float, train: Dataset, ctx: Context
) -> tuple[Recommender, float, bool]:
    """The backend ``name`` trained on ``train``'s real rows: (model, fit seconds, reused).

    ``valid_share`` of each user's rows (users with enough of them) is held out as the
    backend's validation data, for early stopping only. The last trained model is remembered,
    keyed by backend, options, share, seed and the training pairs, so a second filter (or a
    second run in this process) on the same split reuses it.
    """
    model = create("backends", name, options)
    real = train.real()
    users, items = real.codes()
    digest = hashlib.blake2b(digest_size=16)
    for part in (users, items, np.array([train.n_users, train.n_items, ctx.seed])):
        digest.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
    key = json.dumps([name, model.options_dict(), valid_share, digest.hexdigest()])
    if key in _fitted:
        return _fitted[key], 0.0, True
    started = time.perf_counter()
    seed_everything(ctx.seed)
    if valid_share > 0:
        spec = SplitSpec(ratios=(1.0 - valid_share, valid_share, 0.0))
        inner = split_dataset(real, spec, seed=ctx.seed)
        model.fit(inner.train, ctx, valid=inner.valid)
    else:
        model.fit(real, ctx)
    _fitted.clear()  # one model at a time: backends can be large
    _fitted[key] = model
    return model, time.perf_counter() - started, False


def _median(values: np.ndarray) -> float | None:
    return round(float(np.median(values)), 4) if len(values) else None
