"""A tiny third-party-style plugin used by the tests: the `toy` strategy samples popular
items for target users. Registered in-process or through a fake distribution's entry point."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    Options,
    Strategy,
    hookimpl,
    synthetic_table,
    target_users,
)


class ToyOptions(Options):
    per_user: int = Field(default=3, ge=0, description="rows per target user")


class ToyStrategy(Strategy):
    name = "toy"
    description = "Samples items by popularity for each target user (test helper)."
    Options = ToyOptions
    options: ToyOptions

    def fit(self, train: Dataset, ctx: Context) -> None:
        popularity = train.item_popularity().astype(float) + 1.0
        self.p_ = popularity / popularity.sum()

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context):
        rng = ctx.rng("toy")
        users = target_users(train, request.target)
        per_user = self.options.per_user
        n = len(users) * per_user
        if request.budget is not None:
            n = min(n, request.budget)
        user_idx = np.repeat(users, per_user)[:n]
        item_idx = rng.choice(len(self.p_), size=n, p=self.p_)
        user_ids = train.user_index.to_ids(user_idx)
        return synthetic_table(
            user_ids,
            train.item_index.to_ids(item_idx),
            self.name,
            parent_user=user_ids,
            score=self.p_[item_idx].astype(np.float32),
        )


@hookimpl
def register_strategies(register):
    register(ToyStrategy)
