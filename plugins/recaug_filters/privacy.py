"""`privacy`: keep generated users and text from copying real records.

Users: for each new synthetic user (an id that is not a real user), the distance to the
closest real record (DCR) is ``1 - Jaccard`` of its item set with the nearest real training
user's. Users with ``DCR < min_distance`` are dropped with all their rows. The report holds
the DCR quantiles of the synthetic users before and after, the exact-copy rate, and a
real-to-real baseline: a random holdout of real users measured against the other real users,
which is how close real people are to each other. Synthetic rows added to a real user are
not a new record and are not assessed.

Text: generated attribute text that shares a run of ``max_ngram`` consecutive words with the
real item or user text columns is dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from recaug_core import (
    GENERATED_MARK,
    Context,
    Dataset,
    FilterResult,
    Options,
    QualityFilter,
    nearest_jaccard,
)
from recaug_filters.ngrams import copied_texts
from recaug_filters.rows import real_sets, real_user_mask, split_rows, user_sets

TOO_CLOSE = "privacy: too close to a real user (DCR below min_distance)"
COPIED_TEXT = "privacy: copies a long word sequence of training text"
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# Dense similarity block of nearest_jaccard: synthetic rows x real users per batch.
MAX_BLOCK = 1 << 22


class PrivacyOptions(Options):
    min_distance: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="drop new synthetic users whose distance to the closest real user "
        "(1 - Jaccard) is below this; 0 keeps all",
    )
    max_ngram: int = Field(
        default=8,
        ge=1,
        description="drop generated text sharing a run of this many words with training text",
    )
    baseline_users: int = Field(
        default=1000,
        ge=0,
        description="real users (at most a fifth) held out for the real-to-real DCR baseline; "
        "0 skips it",
    )


class PrivacyFilter(QualityFilter):
    name = "privacy"
    description = "Drops synthetic users too close to a real user and text copying training text."
    Options = PrivacyOptions
    options: PrivacyOptions

    def apply(self, train: Dataset, synthetic: pa.Table, ctx: Context) -> FilterResult:
        new_user = ~real_user_mask(train, synthetic.column("user_id"))
        sets = user_sets(train, synthetic.filter(pa.array(new_user)))
        real = real_sets(train, sets.items)
        similarity = _nearest(sets.matrix, real)
        distance = 1.0 - similarity
        too_close = distance < self.options.min_distance
        drop = np.zeros(synthetic.num_rows, dtype=bool)
        drop[np.flatnonzero(new_user)] = too_close[sets.row_of]
        stats: dict[str, Any] = {
            "synthetic_users": len(sets.users),
            "users_dropped": int(too_close.sum()),
            "exact_copy_rate_in": _copy_rate(similarity),
            "exact_copy_rate_kept": _copy_rate(similarity[~too_close]),
            "dcr_in": _quantiles(distance),
            "dcr_kept": _quantiles(distance[~too_close]),
        }
        if self.options.baseline_users:
            baseline = _real_baseline(real, self.options.baseline_users, ctx.rng("privacy"))
            stats["dcr_real_baseline"] = _quantiles(baseline)
            if len(baseline) and (~too_close).any():
                low = np.quantile(baseline, 0.05)
                stats["kept_share_below_baseline_p05"] = round(
                    float((distance[~too_close] < low).mean()), 4
                )
        return split_rows(synthetic, drop, TOO_CLOSE, stats=stats)

    def apply_text(self, train: Dataset, text: pa.Table, ctx: Context) -> FilterResult:
        reference = training_text(train)
        copied = copied_texts(text.column("text"), reference, self.options.max_ngram)
        return split_rows(text, copied, COPIED_TEXT)


def training_text(train: Dataset) -> pa.Array:
    """Every value of the real string columns of the item and user tables."""
    parts: list[pa.Array] = []
    for table, key in ((train.items, "item_id"), (train.users, "user_id")):
        if table is None:
            continue
        for field in table.schema:
            generated = field.metadata is not None and GENERATED_MARK in field.metadata
            if field.name == key or generated or not pa.types.is_string(field.type):
                continue
            parts.extend(table.column(field.name).chunks)
    return pa.concat_arrays(parts) if parts else pa.array([], pa.string())


def _nearest(synthetic: Any, real: Any) -> np.ndarray:
    if synthetic.shape[0] == 0 or real.shape[0] == 0:
        return np.zeros(synthetic.shape[0])
    batch = max(1, MAX_BLOCK // real.shape[0])
    similarity, _ = nearest_jaccard(synthetic, real, batch=batch)
    return similarity


def _real_baseline(real: Any, limit: int, rng: np.random.Generator) -> np.ndarray:
    """DCR of a random holdout of real users (at most a fifth) to the remaining ones."""
    n = real.shape[0]
    size = min(limit, n // 5)
    if size == 0:
        return np.zeros(0)
    holdout = np.zeros(n, dtype=bool)
    holdout[rng.choice(n, size=size, replace=False)] = True
    return 1.0 - _nearest(real[holdout], real[~holdout])


def _copy_rate(similarity: np.ndarray) -> float | None:
    return round(float((similarity >= 1.0 - 1e-9).mean()), 4) if len(similarity) else None


def _quantiles(values: np.ndarray) -> dict[str, float] | None:
    if len(values) == 0:
        return None
    points = np.quantile(values, QUANTILES)
    out = {f"p{round(q * 100):02d}": round(float(v), 4) for q, v in zip(QUANTILES, points)}
    out["mean"] = round(float(values.mean()), 4)
    return out
