"""The `recbole` source: atomic files with name:type headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from recaug_core import DataError
from recaug_core.loading import pick_source
from recaug_sources import samples
from recaug_sources.recbole import RecBoleSource


def test_suffixes_are_stripped_and_siblings_become_items_and_users(tmp_path: Path) -> None:
    folder = Path(samples.write("recbole", tmp_path))
    data = RecBoleSource().load(str(folder))
    assert data.name == "toy"
    assert data.interactions.column_names[:4] == ["user_id", "item_id", "rating", "timestamp"]
    assert data.interactions.column("rating").to_pylist()[:3] == [4.0, 3.0, 5.0]
    assert data.interactions.column("timestamp")[0].as_py() == 881250949
    assert data.items is not None
    assert data.items.column_names == ["item_id", "movie_title", "release_year", "class"]
    # a token_seq stays one text value, and a token column stays text
    assert data.items.column("class")[1].as_py() == "Comedy Romance"
    assert data.items.column("release_year")[0].as_py() == "1994"
    assert data.users is not None and data.users.column("occupation")[0].as_py() == "technician"


def test_the_inter_file_itself_is_accepted_and_detected(tmp_path: Path) -> None:
    folder = Path(samples.write("recbole", tmp_path))
    inter = folder / "toy.inter"
    assert pick_source(str(inter)).name == "recbole"
    assert pick_source(str(folder)).name == "recbole"
    by_file, by_folder = RecBoleSource().load(str(inter)), RecBoleSource().load(str(folder))
    assert by_file.interactions.equals(by_folder.interactions)


def test_other_field_names_are_matched(tmp_path: Path) -> None:
    inter = tmp_path / "yelp.inter"
    inter.write_text(
        "review_id:token\tuser_id:token\tbusiness_id:token\tstars:float\tdate:float\n"
        "r1\tu1\tb1\t4\t1500000000.9\nr2\tu2\tb1\t5\t1500000001\n"
    )
    (tmp_path / "yelp.item").write_text("business_id:token\tname:token_seq\nb1\tThe Diner\n")
    data = RecBoleSource().load(str(inter))
    assert data.interactions.column("item_id").to_pylist() == ["b1", "b1"]
    assert data.interactions.column("timestamp").to_pylist() == [1500000000, 1500000001]
    assert data.interactions.column("review_id").to_pylist() == ["r1", "r2"]  # kept as extra
    assert data.items is not None and data.items.column("name")[0].as_py() == "The Diner"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("user_id\titem_id:token", r"line 1: header field 'user_id' is not name:type"),
        ("user_id:token\titem_id:tokens", r"line 1: header field 'item_id:tokens'"),
        ("user_id:token\tuser_id:float", r"line 1: field 'user_id' appears twice"),
    ],
)
def test_bad_headers(tmp_path: Path, header: str, message: str) -> None:
    inter = tmp_path / "x.inter"
    inter.write_text(header + "\nu1\ti1\n")
    with pytest.raises(DataError, match=message):
        RecBoleSource().load(str(inter))


def test_bad_value_names_file_line_and_field(tmp_path: Path) -> None:
    inter = tmp_path / "x.inter"
    inter.write_text("user_id:token\titem_id:token\trating:float\nu1\ti1\t4\nu2\ti2\tgood\n")
    with pytest.raises(
        DataError, match=r"x.inter, line 3, column 'rating': value 'good' is not a number"
    ):
        RecBoleSource().load(str(inter))


def test_folder_with_several_inter_files_asks_for_one(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.inter").write_text("user_id:token\titem_id:token\nu\ti\n")
    with pytest.raises(DataError, match=r"found 2 \(a.inter, b.inter\)"):
        RecBoleSource().load(str(tmp_path))
