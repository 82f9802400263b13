"""Cleaning shared by all sources: repeated pairs, positives, k-core."""

from __future__ import annotations

import pyarrow as pa

from recaug_core import Dataset
from recaug_core.clean import CleanOptions, clean


def data():
    return Dataset(
        pa.table(
            {
                "user_id": ["a", "a", "a", "b", "b", "c"],
                "item_id": ["x", "x", "y", "x", "y", "x"],
                "rating": [1.0, 5.0, 4.0, 2.0, 3.0, 5.0],
                "timestamp": [10, 20, 5, 1, 2, 3],
            }
        )
    )


def test_repeated_pairs_keep_the_latest_by_default():
    cleaned, report = clean(data())
    rows = cleaned.interactions.to_pylist()
    assert len(rows) == 5 and report["repeats_removed"] == 1
    ax = [r for r in rows if r["user_id"] == "a" and r["item_id"] == "x"]
    assert ax[0]["rating"] == 5.0 and ax[0]["timestamp"] == 20


def test_keep_repeats_drops_only_exact_duplicates():
    doubled = Dataset(pa.concat_tables([data().interactions, data().interactions.slice(0, 1)]))
    cleaned, report = clean(doubled, CleanOptions(keep_repeats=True))
    assert len(cleaned) == 6 and report["repeats_removed"] == 1


def test_min_rating_keeps_unrated_rows():
    table = data().interactions
    rating = pa.array([None, 5.0, 4.0, 2.0, 3.0, 5.0], pa.float32())
    with_null = Dataset(table.set_column(table.column_names.index("rating"), "rating", rating))
    cleaned, _ = clean(with_null, CleanOptions(min_rating=4, keep_repeats=True))
    assert cleaned.interactions.column("rating").to_pylist() == [None, 5.0, 4.0, 5.0]


def test_kcore_is_iterated_to_a_fixed_point():
    cleaned, report = clean(data(), CleanOptions(kcore=2))
    users = set(cleaned.interactions.column("user_id").to_pylist())
    assert users == {"a", "b"}  # c has one row; after that every user and item has two
    assert report["kcore_removed"] == 1


def test_kcore_on_the_command_line(recaug):
    import json

    result = recaug("data", "info", "demo", "--kcore", "15", "--json")
    assert result.code == 0
    info = json.loads(result.out)
    assert info["user_length_quantiles"]["0"] >= 15
    assert info["item_popularity_quantiles"]["0"] >= 15
    assert info["users"] < 1000 and info["source"]["cleaning"]["kcore_removed"] > 0
