"""catalog: unknown items, undeclared users and parents, and text about unknown entities."""

from __future__ import annotations

import pyarrow as pa
import pytest

from recaug_core import Dataset, create, synthetic_table, text_table


@pytest.fixture
def ids(split):
    users = split.train.user_index.to_ids([0, 1]).to_pylist()
    items = split.train.item_index.to_ids([0, 1]).to_pylist()
    return users, items


def rejected_users(result) -> list[str]:
    return result.rejected.column("user_id").to_pylist()


def test_new_users_need_the_declared_prefix(split, ctx, ids):
    users, items = ids
    rows = synthetic_table(
        [users[0], "syn-7", "new-7", "7.0"], [items[0]] * 4, "test", parent_user=[users[1]] * 4
    )
    default = create("filters", "catalog").apply(split.train, rows, ctx)
    assert rejected_users(default) == ["new-7", "7.0"]
    assert set(default.rejected.column("reason").to_pylist()) == {
        "catalog: user is neither real nor a declared synthetic user"
    }
    assert default.stats["kept_new_users"] == 1
    other = create("filters", "catalog", {"new_user_prefix": "new-"}).apply(split.train, rows, ctx)
    assert rejected_users(other) == ["syn-7", "7.0"]
    anything = create("filters", "catalog", {"new_user_prefix": ""}).apply(split.train, rows, ctx)
    assert anything.rejected.num_rows == 0


def test_parent_must_be_a_real_user_unless_unchecked(split, ctx, ids):
    users, items = ids
    rows = synthetic_table(["syn-1", "syn-2"], items, "test", parent_user=[users[0], "ghost"])
    checked = create("filters", "catalog").apply(split.train, rows, ctx)
    assert rejected_users(checked) == ["syn-2"]
    assert checked.rejected.column("reason").to_pylist() == [
        "catalog: parent_user is not a real user"
    ]
    unchecked = create("filters", "catalog", {"check_parent": False})
    assert unchecked.apply(split.train, rows, ctx).rejected.num_rows == 0


def test_items_without_training_interactions_only_with_items_trained(ctx):
    train = Dataset(
        pa.table({"user_id": ["u1", "u2"], "item_id": ["a", "b"]}),
        items=pa.table({"item_id": ["a", "b", "shelf-only"]}),
    )
    rows = synthetic_table(["u1", "u1", "u2"], ["b", "shelf-only", "ghost"], "test")
    catalog = create("filters", "catalog").apply(train, rows, ctx)
    assert catalog.rejected.column("item_id").to_pylist() == ["ghost"]
    trained = create("filters", "catalog", {"items": "trained"}).apply(train, rows, ctx)
    assert trained.rejected.column("reason").to_pylist() == [
        "catalog: item has no real training interactions",
        "catalog: item not in the catalog",
    ]


def test_text_about_unknown_entities_is_dropped(split, ctx, ids):
    users, items = ids
    texts = pa.concat_tables(
        [
            text_table("item", [items[0], "ghost"], "gen_description", ["ok", "bad"], "test"),
            text_table("user", [users[0], "syn-1", "7.0"], "gen_profile", ["a", "b", "c"], "test"),
            text_table("shop", ["s1"], "gen_slogan", ["d"], "test"),
        ]
    )
    result = create("filters", "catalog").apply_text(split.train, texts, ctx)
    assert result.kept.column("id").to_pylist() == [items[0], users[0], "syn-1"]
    assert result.rejected.column("reason").to_pylist() == [
        "catalog: item not in the catalog",
        "catalog: user is neither real nor a declared synthetic user",
        "catalog: text for an entity other than item or user",
    ]
