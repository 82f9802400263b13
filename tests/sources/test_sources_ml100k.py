"""Real MovieLens-100K, where present: RecBole files and the GroupLens layout agree.

Runs only when the RecBole atomic files are at $RECAUG_ML100K or /work/data/ml-100k (they are
never committed: MovieLens may not be redistributed). The GroupLens layout is rebuilt from them
in a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recaug_core.loading import load_data
from recaug_sources.movielens import GENRES_100K

ML100K = Path(os.environ.get("RECAUG_ML100K", "/work/data/ml-100k"))
pytestmark = pytest.mark.skipif(
    not (ML100K / "ml-100k.inter").is_file(), reason="MovieLens-100K is not on this machine"
)


def as_grouplens(folder: Path) -> Path:
    """Write u.data and u.item (latin-1, genre flags) from the RecBole files."""
    target = folder / "ml-100k"
    target.mkdir()
    inter = (ML100K / "ml-100k.inter").read_text(encoding="utf-8").splitlines()[1:]
    rows = []
    for line in inter:
        user, item, rating, stamp = line.split("\t")
        rows.append(f"{user}\t{item}\t{int(float(rating))}\t{int(float(stamp))}")
    (target / "u.data").write_text("\n".join(rows) + "\n")
    items = []
    for line in (ML100K / "ml-100k.item").read_text(encoding="utf-8").splitlines()[1:]:
        item, title, year, genres = (line.split("\t") + [""] * 4)[:4]
        flags = "|".join("1" if g in genres.split() else "0" for g in GENRES_100K)
        items.append(f"{item}|{title} ({year})|01-Jan-{year}|||{flags}")
    (target / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1", "replace"))
    return target


def test_recbole_and_grouplens_layouts_give_the_same_ml100k(tmp_path: Path) -> None:
    recbole = load_data(str(ML100K / "ml-100k.inter"))
    grouplens = load_data(str(as_grouplens(tmp_path)))
    assert (recbole.info["source"], grouplens.info["source"]) == ("recbole", "movielens")
    for loaded in (recbole, grouplens):
        data = loaded.dataset
        assert (len(data), data.n_users, data.n_items) == (100_000, 943, 1_682)
    columns = ["user_id", "item_id", "rating", "timestamp"]
    assert (
        recbole.dataset.interactions.select(columns)
        .sort_by([(c, "ascending") for c in columns])
        .equals(
            grouplens.dataset.interactions.select(columns).sort_by(
                [(c, "ascending") for c in columns]
            )
        )
    )
    items = grouplens.dataset.items
    assert items is not None and items.num_rows == 1_682
    assert items.column("genres")[0].as_py() == "Animation|Children's|Comedy"
