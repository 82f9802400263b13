"""The `seq` strategy: contract, outputs, budget, targets and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from recaug_app.cli import invoke
from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    OptionsError,
    RecaugError,
    Split,
    SplitSpec,
    split_dataset,
    tail_items,
    target_users,
)
from recaug_core.testing import StrategyContract
from recaug_seq.strategy import SeqStrategy, histories
from recaug_sources.world import demo_world


class TestSeqContract(StrategyContract):
    component_name = "seq"


@pytest.fixture(scope="module")
def split() -> Split:
    data = demo_world(n_users=120, n_items=90, n_interactions=3000, seed=1)
    return split_dataset(data, SplitSpec(protocol="leave-one-out"))


def _generate(
    split: Split, options: dict[str, Any] | None = None, seed: int = 0, **request: Any
) -> pa.Table:
    strategy = SeqStrategy(options or {})
    ctx = Context(seed=seed, show_progress=False)
    strategy.fit(split.train, ctx)
    return strategy.generate(split.train, GenerationRequest(**request), ctx)


def _sequences(table: pa.Table) -> dict[str, list[str]]:
    users = table.column("user_id").to_pylist()
    items = table.column("item_id").to_pylist()
    out: dict[str, list[str]] = {}
    for user, item in zip(users, items):
        out.setdefault(user, []).append(item)
    return out


def _real_history(split: Split, user: str) -> list[str]:
    rows = split.train.interactions.filter(
        pc.equal(split.train.interactions.column("user_id"), user)
    )
    order = np.lexsort((np.arange(rows.num_rows), rows.column("timestamp").to_numpy()))
    return [rows.column("item_id")[int(i)].as_py() for i in order]


def test_histories_match_the_core_sequence_order(split: Split) -> None:
    mine = histories(split.train)
    indptr, items = split.train.sequences()
    assert np.array_equal(mine.indptr, indptr) and np.array_equal(mine.items, items)
    assert mine.timed


def test_default_output_pseudo_users_per_operator_and_inserts_for_real_users(split: Split) -> None:
    table = _generate(split)
    users = table.column("user_id").to_pylist()
    parents = table.column("parent_user").to_pylist()
    for op in ("crop", "mask", "reorder", "substitute"):
        mine = [u for u in users if u.startswith(f"syn-seq-{op}-1-")]
        assert mine, f"{op} made no pseudo-users"
    assert not any(u.startswith("syn-seq-insert") for u in users)
    real_rows = [(u, p) for u, p in zip(users, parents) if not u.startswith("syn-seq-")]
    assert real_rows and all(u == p for u, p in real_rows)  # insert rows belong to the parent
    for user, parent in zip(users, parents):
        if user.startswith("syn-seq-"):
            assert user.endswith(f"-{parent}")


def test_only_target_users_are_augmented(split: Split) -> None:
    sparse = set(split.train.user_index.to_ids(target_users(split.train, "sparse")).to_pylist())
    table = _generate(split)
    assert set(table.column("parent_user").to_pylist()) <= sparse
    everyone = set(_generate(split, target="all").column("parent_user").to_pylist())
    assert len(everyone) > len(sparse)


def test_pseudo_users_are_edited_copies_of_their_parent(split: Split) -> None:
    table = _generate(split, {"ops": "crop,mask,reorder"}, target="all")
    for user, items in list(_sequences(table).items())[:60]:
        parent = user.split("-", 4)[-1]
        history = _real_history(split, parent)
        if "-crop-" in user:
            start = history.index(items[0])
            assert history[start : start + len(items)] == items
            assert len(items) == int(0.6 * len(history))
        elif "-mask-" in user:
            assert len(items) == len(history) - max(1, int(0.3 * len(history)))
            positions = [history.index(i) for i in items]
            assert positions == sorted(positions)
        else:
            assert sorted(items) == sorted(history) and items != history


def test_timestamps_keep_each_sequence_in_order(split: Split) -> None:
    table = _generate(split, target="all")
    augmented = split.train.with_interactions(
        pa.concat_tables([split.train.interactions, table]), extend_users=True
    )
    indptr, items = augmented.sequences()
    # A pseudo-user's rows, sorted by time as a backend reads them, are in the order written.
    for user, written in list(_sequences(table).items())[:80]:
        if not user.startswith("syn-seq-"):
            continue
        row = augmented.user_index.indices([user])[0]
        by_time = augmented.item_index.to_ids(items[indptr[row] : indptr[row + 1]]).to_pylist()
        assert by_time == written


def test_inserted_rows_are_timestamped_inside_the_users_history(split: Split) -> None:
    table = _generate(split, {"ops": "insert"}, target="all")
    assert table.num_rows > 0
    times = table.column("timestamp").to_numpy()
    train = split.train.interactions
    for row in range(min(table.num_rows, 100)):
        user = table.column("user_id")[row].as_py()
        stamps = np.sort(
            train.filter(pc.equal(train.column("user_id"), user)).column("timestamp").to_numpy()
        )
        assert stamps[0] <= times[row] <= stamps[-1]


def test_real_user_output_adds_substitutes_at_the_replaced_time(split: Split) -> None:
    table = _generate(split, {"ops": "substitute", "output": "real-user"}, target="all")
    assert table.num_rows > 0
    assert pc.all(pc.equal(table.column("user_id"), table.column("parent_user"))).as_py()
    train_times = set(
        zip(
            split.train.interactions.column("user_id").to_pylist(),
            split.train.interactions.column("timestamp").to_pylist(),
        )
    )
    pairs = zip(table.column("user_id").to_pylist(), table.column("timestamp").to_pylist())
    assert all(pair in train_times for pair in pairs)


def test_target_new_makes_only_pseudo_users(split: Split) -> None:
    table = _generate(split, target="new")
    assert pc.all(pc.starts_with(table.column("user_id"), "syn-seq-")).as_py()


def test_long_tail_target_inserts_only_tail_items(split: Split) -> None:
    table = _generate(split, {"ops": "insert,substitute"}, target="long-tail")
    new = table.filter(pc.invert(pc.is_null(table.column("score"))))
    assert new.num_rows > 0
    tail = tail_items(split.train)
    assert tail[split.train.item_index.indices(new.column("item_id"))].all()


def test_budget_keeps_whole_sequences(split: Split) -> None:
    full = _sequences(_generate(split, {"ops": "crop,mask"}, target="all"))
    capped = _generate(split, {"ops": "crop,mask"}, target="all", budget=200)
    assert 150 < capped.num_rows <= 200
    for user, items in _sequences(capped).items():
        assert items == full[user]


def test_per_user_makes_several_different_copies(split: Split) -> None:
    table = _generate(split, {"ops": "mask", "per_user": 3}, target="all")
    sequences = _sequences(table)
    parent = table.column("parent_user")[0].as_py()
    copies = [sequences[f"syn-seq-mask-{r}-{parent}"] for r in (1, 2, 3)]
    assert len({tuple(c) for c in copies}) > 1


def test_other_seed_other_rows(split: Split) -> None:
    assert not _generate(split, seed=1).equals(_generate(split, seed=2))


def test_ratings_are_copied_for_copied_rows_only(split: Split) -> None:
    table = _generate(split, {"ops": "crop,insert"}, target="all")
    new = pc.invert(pc.is_null(table.column("score")))
    assert pc.all(pc.is_null(table.filter(new).column("rating"))).as_py()
    assert table.filter(pc.invert(new)).column("rating").null_count == 0


def test_data_without_timestamps_yields_null_timestamps(split: Split) -> None:
    rows = split.train.interactions
    untimed = rows.set_column(
        rows.column_names.index("timestamp"), "timestamp", pa.nulls(rows.num_rows, pa.int64())
    )
    train = split.train.with_interactions(untimed)
    strategy = SeqStrategy({"ops": "crop"})
    ctx = Context(seed=0, show_progress=False)
    strategy.fit(train, ctx)
    table = strategy.generate(train, GenerationRequest(target="all"), ctx)
    assert table.num_rows > 0 and table.column("timestamp").null_count == table.num_rows


def test_text_similarity_without_item_text_is_a_clear_error(split: Split) -> None:
    bare = Dataset(split.train.interactions)
    with pytest.raises(RecaugError, match="item text"):
        SeqStrategy({"similarity": "text"}).fit(bare, Context(show_progress=False))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ops": "crop,shuffle"}, "ops"),
        ({"ops": "crop,crop"}, "once"),
        ({"mask_rate": 1.0}, "mask_rate"),
        ({"output": "real-user"}, "real-user"),
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        SeqStrategy(options)


def test_cli_reports_bad_options_with_exit_code_2(tmp_path: Path, capsys: Any) -> None:
    code = invoke(["augment", "--strategy", "seq", "-o", "ops=twist", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "ops" in capsys.readouterr().err
