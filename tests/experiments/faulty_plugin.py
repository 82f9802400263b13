"""A plugin that fails on purpose, to prove a fault stops only its own arm.

`faulty` strategy: raises in ``fit`` or ``generate`` (option ``stage``), or, with
``stage = "interrupt"``, stops the whole process the way Ctrl-C does. `faulty-filter`: raises in
``apply``. Counters record how often each strategy generated, so tests can prove caching.
`unpopular` gives every user the catalog's least popular items: it ruins a popularity model,
so an experiment has an arm that certainly hurts.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from recaug_core import (
    Context,
    Dataset,
    FilterResult,
    GenerationRequest,
    Options,
    QualityFilter,
    Strategy,
    hookimpl,
)

GENERATED: Counter[str] = Counter()


class FaultyOptions(Options):
    stage: Literal["fit", "generate", "interrupt", "none"] = "generate"


class FaultyStrategy(Strategy):
    name = "faulty"
    description = "Raises in the stage it is told to (test helper)."
    Options = FaultyOptions
    options: FaultyOptions

    def fit(self, train: Dataset, ctx: Context) -> None:
        if self.options.stage == "fit":
            raise ValueError("planted fault in fit")

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context):
        if self.options.stage == "interrupt":
            raise KeyboardInterrupt
        raise RuntimeError("planted fault in generate")


class FaultyFilter(QualityFilter):
    name = "faulty-filter"
    description = "Raises in apply (test helper)."

    def apply(self, train: Dataset, synthetic, ctx: Context) -> FilterResult:
        raise RuntimeError("planted fault in apply")


class CountingStrategy(Strategy):
    """The toy strategy's output, counted per seed: a second run must not generate again."""

    name = "counting"
    description = "Counts its generate calls (test helper)."

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context):
        import recaug_toy

        GENERATED[f"seed-{ctx.seed}"] += 1
        toy = recaug_toy.ToyStrategy({"per_user": 2})
        toy.fit(train, ctx)
        return toy.generate(train, request, ctx)


class UnpopularStrategy(Strategy):
    name = "unpopular"
    description = "Adds the least popular items to every user (test helper)."

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context):
        import numpy as np

        from recaug_core import synthetic_table, target_users

        users = target_users(train, request.target)
        least = np.argsort(train.item_popularity(), kind="stable")[:5]
        user_ids = train.user_index.to_ids(np.repeat(users, len(least)))
        items = train.item_index.to_ids(np.tile(least, len(users)))
        return synthetic_table(user_ids, items, self.name)


@hookimpl
def register_strategies(register):
    register(FaultyStrategy)
    register(CountingStrategy)
    register(UnpopularStrategy)


@hookimpl
def register_filters(register):
    register(FaultyFilter)
