"""The core checks every table a plugin hands back before anything is written (issue 19).

A strategy's NaN scores, blank ids, impossible times or unknown items, a filter that launders
synthetic rows as real or invents rows, a backend that scores with NaN: each fails its stage
naming the plugin, and the run is marked failed, never done. The target: no corrupt row in any
run marked done, whatever the plugin does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))

TINY = ("demo", "-s", "users=30", "-s", "items=20", "-s", "interactions=300")
STRATEGY_FAULTS = [
    "nan-score", "inf-rating", "empty-user", "blank-user", "null-item", "negative-time",
    "huge-time", "unknown-item", "unknown-parent", "exit", "exit-0",
]  # fmt: skip
FILTER_FAULTS = ["launder", "invent", "retime", "swap", "exit", "rebuild-invent"]


@pytest.fixture
def hostile() -> Iterator[None]:
    import hostile_plugin

    from recaug_core.registry import get_registry

    registry = get_registry()
    registry.register_module(hostile_plugin, "hostile")
    try:
        yield
    finally:
        registry.unregister("hostile")


def failure_line(result: Any, *says: str) -> str:
    assert result.code == 1, (result.code, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for part in (*says, "(plugin 'hostile')"):
        assert part in lines[0], (part, lines[0])
    return lines[0]


def status(out: Path) -> str | None:
    manifest = out / "manifest.json"
    return json.loads(manifest.read_text())["status"] if manifest.exists() else None


def assert_clean(out: Path) -> None:
    """A run marked done holds only sane rows: known items, finite values, real rows real."""
    augmented = pq.read_table(out / "augmented.parquet")
    items = set(pq.read_table(out / "items.parquet").column("item_id").to_pylist())
    assert set(augmented.column("item_id").to_pylist()) <= items
    for column in ("score", "rating"):
        values = augmented.column(column).drop_null().to_numpy()
        assert np.isfinite(values).all()
    times = augmented.column("timestamp").drop_null().to_numpy()
    assert ((times >= 0) & (times <= 253_402_300_799)).all()
    ids = augmented.column("user_id").to_pylist()
    assert all(i.strip() and i.strip("\u00a0") for i in ids)
    split = pq.read_table(out / "split.parquet")
    train = pc.sum(pc.equal(split.column("split"), "train")).as_py()
    real = pc.sum(pc.equal(augmented.column("origin"), "real")).as_py()
    assert real == train  # nothing synthetic passed off as real


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("nan-score", "row 4, column 'score': value nan is not a finite number"),
        ("blank-user", "row 4, column 'user_id': id '\\xa0' holds only spaces"),
        ("huge-time", "row 4, column 'timestamp': timestamp 4611686018427387904"),
        ("unknown-item", "items not in the catalog (item_id 'no-such-item'"),
        ("exit", "failed in fit: called sys.exit(3)"),
    ],
)
def test_the_failure_names_the_row_and_the_value(tmp_path, recaug, hostile, fault, says):
    result = recaug(
        "augment", *TINY, "--strategy", "hostile", "-o", f"fault={fault}", "--out", tmp_path / "r"
    )
    line = failure_line(result, says)
    assert "-s time_unit" not in line  # a plugin's times: no hint about source options


def test_unknown_items_are_for_the_catalog_filter_to_reject(tmp_path, recaug, hostile):
    out = tmp_path / "run"
    options = ("--strategy", "hostile", "-o", "fault=unknown-item", "--filter", "catalog")
    result = recaug("augment", *TINY, *options, "--out", out)
    assert result.code == 0, result.err
    assert status(out) == "done"
    rejected = pq.read_table(out / "rejected.parquet")
    assert "no-such-item" in rejected.column("item_id").to_pylist()
    assert_clean(out)


@pytest.mark.parametrize("fault", FILTER_FAULTS)
def test_a_filter_fault_marks_the_run_failed(tmp_path, recaug, hostile, fault):
    out = tmp_path / "run"
    options = ("--strategy", "hostile", "--filter", f"hostile-filter:fault={fault}")
    result = recaug("augment", *TINY, *options, "--out", out)
    line = failure_line(result, "filter 'hostile-filter' failed in apply")
    if fault == "launder":
        assert "changed the origin of kept row 1 to 'real'" in line
    assert status(out) == "failed"
    assert not (out / "augmented.parquet").exists()


def test_a_filter_may_score_what_it_keeps(tmp_path, recaug, hostile):
    out = tmp_path / "run"
    options = ("--strategy", "hostile", "--filter", "hostile-filter:fault=rescore")
    assert recaug("augment", *TINY, *options, "--out", out).code == 0
    kept = pq.read_table(out / "augmented.parquet").filter(
        pc.equal(pq.read_table(out / "augmented.parquet").column("origin"), "hostile")
    )
    assert set(kept.column("score").to_pylist()) == {0.25}
    assert_clean(out)


@pytest.mark.parametrize(
    "args",
    [("-o", f"fault={f}") for f in ["none", "print", *STRATEGY_FAULTS]]
    + [
        ("--filter", f"hostile-filter:fault={f}")
        for f in [*FILTER_FAULTS, "rescore", "print", "rebuild"]
    ],
    ids=lambda args: args[1],
)
def test_no_run_marked_done_holds_a_corrupt_row(tmp_path, recaug, hostile, args):
    """Every fault fails its run (exit 1, never "done"); the harmless modes finish clean."""
    out = tmp_path / "run"
    result = recaug("augment", *TINY, "--strategy", "hostile", *args, "--out", out)
    harmless = args[1].endswith(("=none", "=print", "=rescore", "=rebuild"))
    if harmless:
        assert result.code == 0 and status(out) == "done", result.err
        assert_clean(out)
    else:
        failure_line(result, "failed in")
        assert status(out) != "done"


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("nan", "failed in score: returned NaN scores (600 of 600"),
        ("some-nan", "returned NaN scores (1 of 600"),
        ("shape", "returned scores of shape (30, 19) for 30 users and 20 items"),
        ("exit", "failed in fit: called sys.exit(5)"),
        ("fit-error", "failed in fit: ValueError: fit blew up"),
    ],
)
def test_a_backend_fault_is_named(recaug, hostile, fault, says):
    result = recaug("evaluate", *TINY, "--backend", "hostile-backend", "-o", f"fault={fault}")
    failure_line(result, "backend 'hostile-backend'", says)


def test_a_source_failure_names_the_source_and_its_plugin(recaug, hostile):
    result = recaug("data", "info", "broken")
    failure_line(result, "source 'broken-source' failed in load: ValueError: load blew up")


def test_nobody_to_evaluate_is_an_error_not_a_table_of_zeros(tmp_path, recaug):
    result = recaug("evaluate", *TINY, "--backend", "pop", "--ratios", "1,0,0")
    assert result.code == 2 and result.out == ""
    assert "nobody to evaluate: the test split is empty" in result.err
    # one row per user, later users held out: none of them has training rows to rank from
    once = tmp_path / "once.csv"
    once.write_text("user,item,timestamp\n" + "".join(f"u{k},i{k % 5},{k}\n" for k in range(40)))
    result = recaug("evaluate", once, "--backend", "pop", "--split", "global-temporal")
    assert result.code == 2 and result.out == ""
    assert "none of the test split's 4 rows belongs to a user with real training rows" in result.err


def test_an_arm_whose_plugin_exits_fails_and_so_does_the_run(tmp_path, recaug, hostile):
    experiment = tmp_path / "exp.toml"
    experiment.write_text(
        'seeds = [0]\nks = [5]\n[dataset]\nref = "demo"\n'
        "options = { users = 30, items = 20, interactions = 300 }\n"
        '[[backends]]\nname = "pop"\n'
        '[[arms]]\nname = "exits"\nstrategy = "hostile"\noptions = { fault = "exit" }\n'
    )
    result = recaug("run", experiment, "--out", tmp_path / "out", "--no-report")
    assert result.code == 1
    arm = json.loads((tmp_path / "out" / "results.json").read_text())["arms"]["exits"]
    assert arm["status"] == "failed" and "called sys.exit(3)" in arm["error"]
    assert arm["error"].count("(plugin 'hostile')") == 1


def test_an_older_run_with_items_outside_the_catalog_is_named(tmp_path, recaug):
    """A run folder written before these checks may hold such rows: a sentence, not KeyError."""
    import pyarrow as pa

    out = tmp_path / "run"
    assert recaug("augment", *TINY, "--strategy", "seq", "--out", out).code == 0
    augmented = pq.read_table(out / "augmented.parquet")
    items = augmented.column("item_id").to_pylist()
    items[-1] = "never-in-the-catalog"
    pq.write_table(augmented.set_column(1, "item_id", pa.array(items)), out / "augmented.parquet")
    result = recaug("evaluate", "--augmented", out, "--backend", "pop")
    assert result.code == 2, result.err
    assert "augmented.parquet holds 1 rows with items that are not in the catalog" in result.err
