"""The pipeline's guarantees hold whatever a plugin does."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from recaug_core import (
    GENERATED_MARK,
    Context,
    FilterResult,
    GenerationRequest,
    QualityFilter,
    Strategy,
    SyntheticData,
    synthetic_table,
    text_table,
)
from recaug_core.errors import PluginFailure
from recaug_core.pipeline import augment_split
from recaug_core.testing import tiny_split


class Liar(Strategy):
    """Claims its synthetic rows are real and ignores the budget."""

    name = "liar"
    description = "test"

    def generate(self, train, request, ctx):
        users = train.user_index.to_ids([0] * 10)
        items = train.item_index.to_ids(list(range(10)))
        table = synthetic_table(users, items, "real")
        return table


class Crasher(Strategy):
    name = "crasher"
    description = "test"

    def generate(self, train, request, ctx):
        raise ValueError("out of ideas")


class Writer(Strategy):
    name = "writer"
    description = "test"

    def generate(self, train, request, ctx):
        items = train.item_index.ids.to_pylist()[:3]
        text = text_table("item", items, "gen_blurb", ["one", "two", "three"], self.name)
        rows = synthetic_table(["syn-1"], items[:1], self.name)
        return SyntheticData(rows, text=text)


class Loser(QualityFilter):
    """Drops rows without reporting them."""

    name = "loser"
    description = "test"

    def apply(self, train, synthetic, ctx):
        return FilterResult(kept=synthetic.slice(0, 1), rejected=synthetic.slice(0, 0))


def run(strategy, filters=(), budget=None):
    return augment_split(
        tiny_split(),
        strategy,
        list(filters),
        GenerationRequest(budget=budget),
        Context(show_progress=False),
    )


def test_synthetic_rows_can_never_pass_as_real():
    result = run(Liar())
    assert set(result.synthetic.column("origin").to_pylist()) == {"liar"}
    real = result.augmented.real()
    assert len(real) == len(tiny_split().train)


def test_the_budget_is_enforced_even_if_a_strategy_ignores_it():
    assert run(Liar(), budget=4).synthetic.num_rows == 4


def test_a_crashing_strategy_is_named():
    with pytest.raises(PluginFailure, match="strategy 'crasher' failed in generate: ValueError"):
        run(Crasher())


def test_a_filter_that_loses_rows_is_caught():
    expected = "filter 'loser' failed in apply: kept 1 and rejected 0 of 10"
    with pytest.raises(PluginFailure, match=expected):
        run(Liar(), filters=[Loser()])


def test_generated_text_becomes_marked_item_columns_and_new_users_get_indices():
    result = run(Writer())
    items = result.augmented.items
    assert items is not None
    column = items.column("gen_blurb")
    assert column.drop_null().to_pylist() == ["one", "two", "three"]
    assert items.schema.field("gen_blurb").metadata[GENERATED_MARK] == b"writer"
    assert "syn-1" in result.augmented.user_index
    assert result.counts.text_kept == 3


def test_crashing_strategy_on_the_command_line_exits_1_naming_it(recaug, tmp_path):
    from recaug_core import hookimpl
    from recaug_core.registry import get_registry

    class CrashPlugin:
        @hookimpl
        def register_strategies(self, register):
            register(Crasher)

    registry = get_registry()
    registry.register_module(CrashPlugin(), "crash-plugin")
    try:
        out = tmp_path / "run"
        result = recaug(
            "augment",
            "demo",
            "-s",
            "users=50",
            "-s",
            "items=30",
            "-s",
            "interactions=500",
            "--strategy",
            "crasher",
            "--out",
            out,
        )
    finally:
        registry.unregister("crash-plugin")
    assert result.code == 1
    assert "strategy 'crasher' failed in generate: ValueError: out of ideas" in result.err
    assert "Traceback" not in result.err
    assert not out.exists()  # nothing worth resuming was produced


def test_merge_keeps_real_user_indices_stable():
    split = tiny_split()
    result = run(Writer())
    n_real = len(split.train.user_index)
    assert result.augmented.user_index.ids.slice(0, n_real).equals(split.train.user_index.ids)
    origin = result.augmented.interactions.column("origin")
    assert pc.sum(pc.equal(origin, "writer")).as_py() == 1
    assert isinstance(result.augmented.interactions, pa.Table)
