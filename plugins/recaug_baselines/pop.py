"""`pop`: every user gets the most popular training items. Any model must beat it."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from recaug_core import Context, Dataset, Options, Recommender


class PopOptions(Options):
    count: Literal["all", "real"] = Field(
        default="all",
        description="count all training rows (synthetic too) or only real ones",
    )


class PopularityBackend(Recommender):
    name = "pop"
    description = "Most-popular items for everyone: the sanity baseline."
    Options = PopOptions
    options: PopOptions

    def fit(self, train: Dataset, ctx: Context, valid: Dataset | None = None) -> None:
        source = train.real() if self.options.count == "real" else train
        popularity = source.item_popularity().astype(np.float32)
        self.scores_ = popularity / max(float(popularity.max()), 1.0)

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.scores_, (len(users), len(self.scores_)))
