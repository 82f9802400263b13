"""A tiny third-party-style plugin used by the tests: the `toy` strategy samples popular
items for target users, and the `blocklist` filter drops rows whose item a file lists.
Registered in-process or through a fake distribution's entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from recaug_core import (
    Context,
    Dataset,
    FilterResult,
    GenerationRequest,
    Options,
    QualityFilter,
    RecaugError,
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


class BlocklistOptions(Options):
    file: Path = Field(description="text file of item ids (one per line) never to add")


class BlocklistFilter(QualityFilter):
    name = "blocklist"
    description = "Drops synthetic rows whose item the blocklist file names (test helper)."
    Options = BlocklistOptions
    options: BlocklistOptions

    def apply(self, train: Dataset, synthetic: pa.Table, ctx: Context) -> FilterResult:
        try:
            blocked = self.options.file.read_text(encoding="utf-8").split()
        except OSError as exc:
            raise RecaugError(f"filter 'blocklist': cannot read {self.options.file}") from exc
        drop = pc.is_in(synthetic.column("item_id"), value_set=pa.array(blocked, pa.string()))
        rejected = synthetic.filter(drop)
        reasons = pa.array(["blocklist: item is blocked"] * rejected.num_rows, pa.string())
        return FilterResult(
            kept=synthetic.filter(pc.invert(drop)),
            rejected=rejected.append_column("reason", reasons),
        )


@hookimpl
def register_strategies(register):
    register(ToyStrategy)


@hookimpl
def register_filters(register):
    register(BlocklistFilter)
