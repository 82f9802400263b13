"""The `movielens` source: the 100K, 1M/10M and 20M+ folder layouts."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

from recaug_core import DataError
from recaug_core.loading import pick_source
from recaug_sources import samples
from recaug_sources.movielens import MovieLensSource


def load(ref: str | Path, **options: object):  # type: ignore[no-untyped-def]
    return MovieLensSource(options).load(str(ref))


def pairs(data) -> list[tuple[str, str, float, int]]:  # type: ignore[no-untyped-def]
    rows = data.interactions.select(["user_id", "item_id", "rating", "timestamp"]).to_pylist()
    return sorted(tuple(row.values()) for row in rows)


def test_every_layout_reads_the_same_ratings(tmp_path: Path) -> None:
    ml100k = load(samples.write("movielens-100k", tmp_path))
    ml1m = load(samples.write("movielens-1m", tmp_path))
    ml25m = load(samples.write("movielens-25m", tmp_path))
    whole = [r for r in samples.RATINGS]
    assert pairs(ml25m) == sorted(whole)
    assert pairs(ml100k) == pairs(ml1m) == sorted(r for r in whole if r[2] == int(r[2]))
    assert (ml100k.name, ml1m.name, ml25m.name) == ("ml-100k", "ml-1m", "ml-25m")


def test_100k_items_decode_latin1_and_spell_out_genre_flags(tmp_path: Path) -> None:
    data = load(samples.write("movielens-100k", tmp_path))
    items = data.items
    assert items is not None
    assert items.column_names == ["item_id", "title", "release_date", "genres"]
    row = items.filter(pc.equal(items.column("item_id"), "11")).to_pylist()[0]
    assert row["title"] == "Glass Orchárd (1995)"
    assert row["genres"] == "Comedy|Romance"
    assert row["release_date"] == "01-Jan-1995"
    assert data.users is not None and data.users.column("zip_code")[0].as_py() == "00001"


def test_1m_movies_and_users(tmp_path: Path) -> None:
    data = load(samples.write("movielens-1m", tmp_path))
    assert data.items is not None
    assert data.items.column("title")[1].as_py() == "Glass Orchárd (1995)"
    assert data.items.column("genres")[2].as_py() == "Action|Sci-Fi"
    assert data.users is not None
    assert data.users.column_names == ["user_id", "gender", "age", "occupation", "zip_code"]


def test_25m_quoted_titles(tmp_path: Path) -> None:
    data = load(samples.write("movielens-25m", tmp_path))
    assert data.items is not None
    assert data.items.column("title")[5].as_py() == 'The "Late" Ferry (1997), The'
    assert data.users is None


def test_options_skip_items_and_users(tmp_path: Path) -> None:
    data = load(samples.write("movielens-1m", tmp_path), items=False, users=False)
    assert data.items is None and data.users is None


def test_detection_by_folder_and_by_file(tmp_path: Path) -> None:
    folder = Path(samples.write("movielens-100k", tmp_path))
    assert pick_source(str(folder)).name == "movielens"
    assert pick_source(str(folder / "u.data")).name == "movielens"
    other = tmp_path / "other"
    other.mkdir()
    (other / "ratings.csv").write_text("user,item,rating\na,b,4\n")
    assert pick_source(str(other / "ratings.csv")).name == "table"  # not MovieLens's header


def test_ratings_dat_with_a_wrong_line(tmp_path: Path) -> None:
    folder = Path(samples.write("movielens-1m", tmp_path))
    with open(folder / "ratings.dat", "a") as handle:
        handle.write("5::10::3\n")
    with pytest.raises(
        DataError, match=r"ratings.dat, line 10: expected 4 fields separated by '::', found 3"
    ):
        load(folder)


def test_bad_genre_flag(tmp_path: Path) -> None:
    folder = Path(samples.write("movielens-100k", tmp_path))
    lines = (folder / "u.item").read_bytes().splitlines()
    lines[2] = lines[2][:-1] + b"7"
    (folder / "u.item").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError, match=r"u.item, line 3, column 'Western': genre flag '7'"):
        load(folder)


def test_u_item_with_a_missing_field(tmp_path: Path) -> None:
    folder = Path(samples.write("movielens-100k", tmp_path))
    lines = (folder / "u.item").read_bytes().splitlines()
    lines[4] = lines[4].rsplit(b"|", 1)[0]
    (folder / "u.item").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(
        DataError, match=r"u.item, line 5: expected 24 fields separated by '\|', found 23"
    ):
        load(folder)


def test_10m_half_stars_utf8_titles_and_no_users(tmp_path: Path) -> None:
    folder = tmp_path / "ml-10M100K"
    folder.mkdir()
    ratings = [f"{u}::{i}::{r:g}::{t}" for u, i, r, t in samples.RATINGS]
    (folder / "ratings.dat").write_text("\n".join(ratings) + "\n")
    (folder / "movies.dat").write_text("10::Amélie (2001)::Comedy|Romance\n", encoding="utf-8")
    data = load(folder)
    assert pairs(data) == sorted(samples.RATINGS)  # 4.5, 3.5 and 2.5 kept
    assert data.items is not None and data.items.column("title")[0].as_py() == "Amélie (2001)"
    assert data.users is None
