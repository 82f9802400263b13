"""The data model: schema, validation messages, id indexes, helpers strategies rely on."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from recaug_core import GENERATED_MARK, INTERACTION_SCHEMA, DataError, normalize_interactions
from recaug_core.data import Dataset, IdIndex, attach_text, synthetic_table, text_table


def table(**columns):
    return pa.table(columns)


def test_missing_optional_columns_are_added_with_real_origin():
    out = normalize_interactions(table(user_id=["a", "b"], item_id=["x", "y"], extra=[1, 2]))
    assert out.schema.names == [*INTERACTION_SCHEMA.names, "extra"]
    assert out.column("origin").to_pylist() == ["real", "real"]
    assert out.column("rating").null_count == 2


def test_integer_ids_become_strings_without_decimals():
    out = normalize_interactions(table(user_id=[1, 2], item_id=[10.0, 20.0]))
    assert out.column("item_id").to_pylist() == ["10", "20"]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"item_id": ["x"]}, "missing required column 'user_id'"),
        ({"user_id": ["a", None], "item_id": ["x", "y"]}, "row 2, column 'user_id': missing value"),
        ({"user_id": ["a", ""], "item_id": ["x", "y"]}, "row 2, column 'user_id': empty id"),
        (
            {"user_id": ["a", "b"], "item_id": ["x", "y"], "rating": ["4", "four"]},
            "row 2, column 'rating': value 'four' is not a number",
        ),
        (
            {"user_id": ["a", "b"], "item_id": ["x", "y"], "rating": [1.0, float("nan")]},
            "row 2, column 'rating': value nan is not a finite number",
        ),
        (
            {"user_id": ["a", "b"], "item_id": ["x", "y"], "rating": [float("inf"), 1.0]},
            "row 1, column 'rating': value inf is not a finite number",
        ),
        (
            {"user_id": ["a"], "item_id": ["x"], "timestamp": [-5]},
            "row 1, column 'timestamp': negative timestamp",
        ),
        (
            {"user_id": ["a"], "item_id": [1.5]},
            "row 1, column 'item_id': id 1.5 is not a whole number",
        ),
    ],
)
def test_validation_names_the_column_and_first_bad_row(columns, message):
    with pytest.raises(DataError) as info:
        normalize_interactions(pa.table(columns))
    assert message in str(info.value)


def test_errors_from_files_name_the_file_and_line():
    with pytest.raises(DataError) as info:
        normalize_interactions(
            table(user_id=["a", "b", "c"], item_id=["x", "y", "z"], rating=["1", "2", "x"]),
            file="ratings.csv",
            line_of=lambda row: row + 2,
        )
    assert str(info.value).startswith("ratings.csv, line 4, column 'rating':")


def test_duplicate_item_ids_in_the_items_table_are_rejected():
    with pytest.raises(DataError, match="item_id 'x' appears more than once"):
        Dataset(table(user_id=["a"], item_id=["x"]), items=table(item_id=["x", "x"]))


def test_id_index_is_a_vectorised_bijection():
    index = IdIndex.from_columns(pa.array(["b", "a", "b"]), pa.array(["c"]))
    assert index.ids.to_pylist() == ["b", "a", "c"]
    assert index.lookup(["c", "zz", "b"]).tolist() == [2, -1, 0]
    assert index.to_ids([1, 2]).to_pylist() == ["a", "c"]
    with pytest.raises(KeyError, match="zz"):
        index.indices(["a", "zz"])
    bigger = index.extend(["d", "a"])
    assert bigger.ids.to_pylist() == ["b", "a", "c", "d"]
    assert "d" in bigger and "d" not in index


def test_dataset_indexes_cover_catalog_items_without_interactions():
    data = Dataset(table(user_id=["u1"], item_id=["i2"]), items=table(item_id=["i1", "i2"]))
    assert data.item_index.ids.to_pylist() == ["i1", "i2"]
    assert data.item_popularity().tolist() == [0, 1]


def test_sequences_follow_time_then_file_order():
    data = Dataset(
        table(user_id=["u", "v", "u", "u"], item_id=["c", "x", "a", "b"], timestamp=[30, 5, 10, 10])
    )
    indptr, items = data.sequences()
    names = data.item_index.to_ids(items).to_pylist()
    u = data.user_index.lookup(["u"])[0]
    assert names[indptr[u] : indptr[u + 1]] == ["a", "b", "c"]


def test_item_texts_fall_back_to_the_id():
    data = Dataset(
        table(user_id=["u", "u"], item_id=["i1", "i9"]),
        items=table(item_id=["i1"], title=["Heat (1995)"], genres=["Crime"]),
    )
    assert data.item_texts() == ["Heat (1995) | Crime", "i9"]
    assert data.item_texts(["title"]) == ["Heat (1995)", "i9"]
    with pytest.raises(DataError, match="no column 'plot'"):
        data.item_texts(["plot"])


def test_interaction_matrix_is_binary_and_aligned():
    data = Dataset(table(user_id=["u", "u", "v"], item_id=["a", "a", "b"]))
    matrix = data.interaction_matrix()
    assert matrix.shape == (2, 2)
    assert matrix.toarray().tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_codes_and_real_rows_follow_the_interactions_they_came_from():
    # Both are remembered per table: a new table (assigned, or a derived dataset) must never
    # see the codes or real rows of the old one, and shared codes must not be writable.
    data = Dataset(table(user_id=["u", "v"], item_id=["a", "b"]))
    users, items = data.codes()
    assert users.tolist() == [0, 1] and items.tolist() == [0, 1]
    with pytest.raises(ValueError):
        users[0] = 5
    assert data.real() is data.real()
    mixed = synthetic_table(["v"], ["a"], "gen")
    data.interactions = pa.concat_tables([data.interactions, mixed])
    assert data.codes()[0].tolist() == [0, 1, 1]
    assert len(data.real()) == 2 and len(data) == 3
    only_v = data.with_interactions(data.interactions.slice(1))
    assert only_v.codes()[0].tolist() == [1, 1]
    assert len(only_v.real()) == 1


def test_synthetic_table_has_the_schema_and_origin():
    out = synthetic_table(["u"], ["i"], "gen", parent_user=["u"], score=np.array([0.5]))
    assert out.schema.equals(INTERACTION_SCHEMA)
    assert out.column("origin").to_pylist() == ["gen"]


def test_generated_text_becomes_a_marked_column():
    items = table(item_id=["i1", "i2"], title=["A", "B"])
    text = text_table("item", ["i2"], "gen_description", ["about B"], "lora-gen")
    out = attach_text(items, "item_id", text)
    assert out.column("gen_description").to_pylist() == [None, "about B"]
    assert out.schema.field("gen_description").metadata[GENERATED_MARK] == b"lora-gen"
