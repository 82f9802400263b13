"""The `amazon` source: 2018 and 2023 review files, compressed or not, with metadata."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.compute as pc
import pytest

from recaug_core import DataError
from recaug_core.loading import pick_source
from recaug_sources import samples
from recaug_sources.amazon import AmazonSource


def load(ref: str | Path, **options: object):  # type: ignore[no-untyped-def]
    return AmazonSource(options).load(str(ref))


def test_2018_gzip_reviews_with_meta(tmp_path: Path) -> None:
    ref = samples.write("amazon-2018", tmp_path)
    assert pick_source(ref).name == "amazon"
    data = load(ref)
    assert data.name == "Toys_5"
    first = data.interactions.slice(0, 1).to_pylist()[0]
    assert (first["user_id"], first["item_id"], first["rating"]) == ("A1X", "B010", 4.0)
    assert first["timestamp"] == 881250949
    assert "reviewText" not in data.interactions.column_names  # review text is not loaded
    items = data.items
    assert items is not None and items.num_rows == samples.N_ITEMS  # the repeat is dropped
    row = items.filter(pc.equal(items.column("item_id"), "B011")).to_pylist()[0]
    assert row["title"] == "Glass Orchard"
    assert row["category"] == "Toys | Comedy"
    assert row["description"] == "A fabricated product. Made in 1995."


def test_2023_folder_milliseconds_and_parent_asin(tmp_path: Path) -> None:
    ref = samples.write("amazon-2023", tmp_path)
    assert pick_source(ref).name == "amazon"
    data = load(ref)
    first = data.interactions.slice(0, 1).to_pylist()[0]
    assert (first["user_id"], first["item_id"]) == ("AG1", "C10")
    assert first["timestamp"] == 881250949  # 881250949123 ms
    assert data.items is not None
    assert data.items.column_names == [
        "item_id", "title", "main_category", "store", "categories", "features", "description"
    ]  # fmt: skip
    assert data.items.column("store")[0].as_py() == "Acme Press"


def test_meta_option_and_release_option(tmp_path: Path) -> None:
    folder = Path(samples.write("amazon-2023", tmp_path))
    moved = tmp_path / "elsewhere.jsonl"
    (folder / "meta_Books.jsonl").rename(moved)
    assert load(folder).items is None
    assert load(folder, meta=str(moved)).items is not None
    with pytest.raises(DataError, match=r"line 1, column 'user_id': missing value"):
        load(folder / "Books.jsonl", release="2018")


def test_a_field_of_the_wrong_kind_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "Shoes.json.gz"
    rows = [
        {"reviewerID": "A1", "asin": "B1", "overall": 5.0, "unixReviewTime": 1},
        {"reviewerID": "A2", "asin": "B1", "overall": "five", "unixReviewTime": 2},
    ]
    path.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in rows).encode()))
    with pytest.raises(
        DataError, match=r"Shoes.json.gz, line 2: field 'overall' is text, expected number"
    ):
        load(path)


def test_folder_with_two_review_files_asks_for_one(tmp_path: Path) -> None:
    samples.write("amazon-2018", tmp_path)
    (tmp_path / "Games.json").write_text(
        json.dumps({"reviewerID": "A", "asin": "B", "overall": 1, "unixReviewTime": 1}) + "\n"
    )
    with pytest.raises(DataError, match=r"found 2 \(Games.json, Toys_5.json.gz\)"):
        load(tmp_path)


def test_other_jsonl_is_left_to_the_table_source(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"user": "a", "item": "b"}) + "\n")
    assert pick_source(str(path)).name == "table"
