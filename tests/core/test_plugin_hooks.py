"""Each registration hook, used from the command line by an in-process plugin."""

from __future__ import annotations

import json

import click
import numpy as np
import pyarrow as pa
import pytest

from recaug_core import FilterResult, QualityFilter, Recommender, hookimpl
from recaug_core.registry import get_registry

SMALL = ("demo", "-s", "users=80", "-s", "items=50", "-s", "interactions=1000")


class ReverseIdBackend(Recommender):
    """Prefers items with larger integer positions: deterministic and easy to check."""

    name = "reverse-id"
    description = "Scores item i as i."

    def fit(self, train, ctx, valid=None):
        self.n_items = train.n_items

    def score(self, users):
        return np.tile(np.arange(self.n_items, dtype=np.float32), (len(users), 1))


class KeepEvenRows(QualityFilter):
    name = "keep-even"
    description = "Keeps every other row."

    def apply(self, train, synthetic, ctx):
        even = pa.array(np.arange(synthetic.num_rows) % 2 == 0)
        odd = synthetic.filter(pa.compute.invert(even))
        return FilterResult(
            kept=synthetic.filter(even),
            rejected=odd.append_column("reason", pa.array(["odd row"] * odd.num_rows)),
            stats={"kept_even": True},
        )


class HookPlugin:
    @hookimpl
    def register_backends(self, register):
        register(ReverseIdBackend)

    @hookimpl
    def register_filters(self, register):
        register(KeepEvenRows)

    @hookimpl
    def register_commands(self, cli):
        @cli.command("hello-plugin")
        @click.argument("who")
        def hello(who):
            click.echo(f"hello {who}")


@pytest.fixture
def hook_plugin(toy_plugin):
    registry = get_registry()
    registry.register_module(HookPlugin(), "hook-plugin")
    try:
        yield
    finally:
        registry.unregister("hook-plugin")


def test_register_commands_adds_a_command(recaug, hook_plugin):
    result = recaug("hello-plugin", "world")
    assert result.code == 0 and result.out.strip() == "hello world"


def test_register_backends_backend_is_evaluated_over_all_items(recaug, hook_plugin):
    result = recaug("evaluate", *SMALL, "--backend", "reverse-id", "--json")
    assert result.code == 0, result.err
    baseline = json.loads(result.out)["baseline"]
    assert baseline["coverage@10"] > 10 / 50  # masking known items spreads the lists


def test_register_filters_filter_runs_in_order_and_reports(recaug, hook_plugin, tmp_path):
    out = tmp_path / "run"
    result = recaug(
        "augment",
        *SMALL,
        "--strategy",
        "toy",
        "--no-dedupe",
        "--filter",
        "keep-even",
        "--out",
        out,
        "--json",
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    stats = report["filter_stats"]["keep-even"]
    assert stats["kept_even"] is True
    assert stats["kept"] == (stats["in"] + 1) // 2
    assert report["counts"]["rejected_by_reason"] == {"odd row": stats["rejected"]}


def test_listing_shows_in_process_plugins(recaug, hook_plugin):
    plugins = {p["name"]: p for p in json.loads(recaug("plugins", "--json").out)}
    provides = plugins["hook-plugin"]["provides"]
    assert provides == {"backends": ["reverse-id"], "filters": ["keep-even"]}
    assert set(plugins["hook-plugin"]["hooks"]) == {
        "register_backends",
        "register_filters",
        "register_commands",
    }
