"""A plugin whose components misbehave on purpose, one way per ``fault`` option: the output
the core must refuse, and the process-level tricks it must survive (SystemExit, printing to
stdout, Ctrl-C). Registered in-process by the tests.
"""

from __future__ import annotations

import sys
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recaug_core import (
    Context,
    Dataset,
    DataSource,
    FilterResult,
    GenerationRequest,
    Options,
    QualityFilter,
    Recommender,
    Strategy,
    hookimpl,
    synthetic_table,
)

StrategyFault = Literal[
    "none", "nan-score", "inf-rating", "empty-user", "blank-user", "null-item", "unknown-item",
    "unknown-parent", "negative-time", "huge-time", "exit", "exit-0", "print", "keyboard",
]  # fmt: skip


class StrategyOptions(Options):
    fault: StrategyFault = "none"


class HostileStrategy(Strategy):
    name = "hostile"
    description = "Generates rows broken in the way it is told to (test helper)."
    Options = StrategyOptions
    options: StrategyOptions

    def fit(self, train: Dataset, ctx: Context) -> None:
        if self.options.fault == "exit":
            sys.exit(3)
        if self.options.fault == "exit-0":
            sys.exit(0)
        if self.options.fault == "print":
            print("hello from fit")

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context) -> pa.Table:
        fault = self.options.fault
        if fault == "keyboard":
            raise KeyboardInterrupt
        if fault == "print":
            print("hello from generate")
        n = min(train.n_users, 20)
        users = train.user_index.ids.to_pylist()[:n]
        items = [train.item_index.ids[i % train.n_items].as_py() for i in range(n)]
        score = np.full(n, 0.5, dtype=np.float32)
        rating = np.full(n, 4.0, dtype=np.float32)
        time = np.full(n, 1_000_000, dtype=np.int64)
        parents: list[str | None] = list(users)
        if fault == "nan-score":
            score[3] = np.nan
        elif fault == "inf-rating":
            rating[3] = np.inf
        elif fault == "empty-user":
            users[3] = ""
        elif fault == "blank-user":
            users[3] = "\u00a0"
        elif fault == "unknown-item":
            items[3] = "no-such-item"
        elif fault == "unknown-parent":
            parents[3] = "no-such-user"
        elif fault == "negative-time":
            time[3] = -1
        elif fault == "huge-time":
            time[3] = 2**62
        table = synthetic_table(
            users, items, self.name, parent_user=parents, score=score, rating=rating, timestamp=time
        )
        if fault == "null-item":
            column = pa.array([None if i == 3 else v for i, v in enumerate(items)], pa.string())
            table = table.set_column(1, "item_id", column)
        return table


FilterFault = Literal[
    "launder", "invent", "retime", "rescore", "swap", "exit", "print", "rebuild", "rebuild-invent"
]


class FilterOptions(Options):
    fault: FilterFault = "launder"


class HostileFilter(QualityFilter):
    name = "hostile-filter"
    description = "Keeps rows in the way it is told to (test helper)."
    Options = FilterOptions
    options: FilterOptions

    def apply(self, train: Dataset, synthetic: pa.Table, ctx: Context) -> FilterResult:
        fault = self.options.fault
        kept, rejected = synthetic.slice(1), synthetic.slice(0, 1)
        if fault == "exit":
            sys.exit(4)
        if fault == "print":
            print("hello from a filter")
        elif fault == "launder":  # synthetic rows passed off as real
            origin = pa.array(["real"] * kept.num_rows, pa.string())
            kept = kept.set_column(kept.column_names.index("origin"), "origin", origin)
        elif fault == "invent":  # one row replaced by a row it was never given
            other = train.item_index.ids[-1].as_py()
            items = pa.array([other, *kept.column("item_id").to_pylist()[1:]], pa.string())
            kept = kept.set_column(1, "item_id", items)
        elif fault == "retime":
            time = pc.add(pc.fill_null(kept.column("timestamp"), 0), 1)
            kept = kept.set_column(kept.column_names.index("timestamp"), "timestamp", time)
        elif fault == "rescore":  # allowed: a filter may score what it keeps
            score = pa.array([0.25] * kept.num_rows, pa.float32())
            kept = kept.set_column(kept.column_names.index("score"), "score", score)
        elif fault == "swap":  # kept and rejected overlap: one row kept twice, one lost
            kept = pa.concat_tables([kept.slice(0, 1), kept])
            rejected = rejected.slice(0, 0)
            kept = kept.slice(0, synthetic.num_rows)
        if fault.startswith("rebuild"):  # new tables from Python rows: recaug's row marks lost
            columns = [c for c in synthetic.column_names if not c.startswith("__")]
            kept, rejected = (
                pa.Table.from_pylist(t.select(columns).to_pylist()) for t in (kept, rejected)
            )
            if fault == "rebuild-invent":
                kept = kept.set_column(1, "item_id", pa.array(["i-other"] * kept.num_rows))
        return FilterResult(kept, rejected)


BackendFault = Literal["nan", "some-nan", "shape", "exit", "print", "fit-error"]


class BackendOptions(Options):
    fault: BackendFault = "nan"


class HostileBackend(Recommender):
    name = "hostile-backend"
    description = "Scores in the way it is told to (test helper)."
    Options = BackendOptions
    options: BackendOptions

    def fit(self, train: Dataset, ctx: Context, valid: Dataset | None = None) -> None:
        self.n_items_ = train.n_items
        if self.options.fault == "exit":
            sys.exit(5)
        if self.options.fault == "fit-error":
            raise ValueError("fit blew up")
        if self.options.fault == "print":
            print("hello from a backend")

    def score(self, users: np.ndarray) -> np.ndarray:
        scores = np.random.default_rng(0).random((len(users), self.n_items_), dtype=np.float32)
        if self.options.fault == "nan":
            scores[:] = np.nan
        elif self.options.fault == "some-nan":
            scores[0, 0] = np.nan
        elif self.options.fault == "shape":
            scores = scores[:, :-1]
        return scores


class BrokenSource(DataSource):
    name = "broken-source"
    description = "Fails to load (test helper)."

    @classmethod
    def can_load(cls, ref: str) -> bool:
        return ref == "broken"

    def load(self, ref: str) -> Dataset:
        raise ValueError("load blew up")


@hookimpl
def register_strategies(register):  # type: ignore[no-untyped-def]
    register(HostileStrategy)


@hookimpl
def register_filters(register):  # type: ignore[no-untyped-def]
    register(HostileFilter)


@hookimpl
def register_backends(register):  # type: ignore[no-untyped-def]
    register(HostileBackend)


@hookimpl
def register_sources(register):  # type: ignore[no-untyped-def]
    register(BrokenSource)
