"""`movielens`: the MovieLens folders as GroupLens distributes them.

- 100K: ``u.data`` (tab-separated user, item, rating, time; no header), ``u.item``
  (``|``-separated, latin-1: id, title, release date, video date, URL, 19 genre flags) and
  ``u.user``;
- 1M and 10M: ``ratings.dat``, ``movies.dat`` and (1M) ``users.dat``, ``::``-separated;
- 20M, 25M, 32M and latest: ``ratings.csv`` and ``movies.csv`` with headers.

Items get ``title`` and ``genres`` (genre names joined by ``|``, as in the later releases).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from recaug_core import (
    DataError,
    Dataset,
    DataSource,
    Options,
    normalize_entity_table,
    normalize_interactions,
)
from recaug_sources.readers import (
    Delimited,
    LineOf,
    detect_encoding,
    first_true,
    read_delimited,
    read_lines_split,
)

GENRES_100K = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
INTERACTION_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
RATING_FILES = ("u.data", "ratings.dat", "ratings.csv")
CSV_HEADER = "userId,movieId,rating,timestamp"


class MovieLensOptions(Options):
    encoding: Literal["auto", "utf-8", "latin-1"] = Field(
        default="auto",
        description="encoding of the movie and user files (auto: UTF-8 if valid, else latin-1)",
    )
    items: bool = Field(default=True, description="read the movies file into the items table")
    users: bool = Field(default=True, description="read the users file where there is one")


class MovieLensSource(DataSource):
    name = "movielens"
    description = "MovieLens folders: 100K u.data/u.item, 1M/10M ratings.dat, 20M+ ratings.csv."
    Options = MovieLensOptions
    options: MovieLensOptions
    priority = 10

    @classmethod
    def can_load(cls, ref: str) -> bool:
        path = Path(ref)
        if path.is_dir():
            return any(_is_ratings_file(path / name) for name in RATING_FILES)
        return path.name in RATING_FILES and _is_ratings_file(path)

    def load(self, ref: str) -> Dataset:
        path = Path(ref)
        folder = path if path.is_dir() else path.parent
        ratings = path if not path.is_dir() else _ratings_in(folder)
        name = folder.resolve().name or "movielens"
        if ratings.name == "u.data":
            return self._load_100k(ratings, name)
        if ratings.name == "ratings.dat":
            return self._load_dat(ratings, name)
        return self._load_csv(ratings, name)

    def _encoding(self, path: Path) -> str:
        return detect_encoding(path) if self.options.encoding == "auto" else self.options.encoding

    def _load_100k(self, ratings: Path, name: str) -> Dataset:
        table, line_of = read_delimited(
            ratings,
            Delimited(
                delimiter="\t",
                header=False,
                names=INTERACTION_COLUMNS,
                quoting=False,
                types={"user_id": pa.string(), "item_id": pa.string()},
            ),
        )
        interactions = normalize_interactions(table, file=str(ratings), line_of=line_of)
        items = users = None
        if self.options.items and (movies := ratings.parent / "u.item").is_file():
            items = self._items_100k(movies)
        if self.options.users and (people := ratings.parent / "u.user").is_file():
            users = self._pipe_table(
                people, ("user_id", "age", "gender", "occupation", "zip_code"), "user_id"
            )
        return Dataset(interactions, items=items, users=users, name=name)

    def _items_100k(self, path: Path) -> pa.Table:
        flags = [f"genre_{i}" for i in range(len(GENRES_100K))]
        names = ("item_id", "title", "release_date", "video_release_date", "url", *flags)
        table, line_of = self._read_pipe(path, names)
        parts = []
        for flag, genre in zip(flags, GENRES_100K):
            column = table.column(flag)
            bad = pc.invert(pc.is_in(column, value_set=pa.array(["0", "1"])))
            if pc.any(bad).as_py():
                row = first_true(bad)
                raise DataError(
                    f"genre flag {column[row].as_py()!r} is not 0 or 1",
                    file=str(path),
                    line=line_of(row),
                    column=genre,
                )
            parts.append(pc.if_else(pc.equal(column, "1"), f"{genre}|", ""))
        genres = pc.utf8_rtrim(pc.binary_join_element_wise(*parts, ""), characters="|")
        items = pa.table(
            {
                "item_id": table.column("item_id"),
                "title": table.column("title"),
                "release_date": table.column("release_date"),
                "genres": genres,
            }
        )
        return normalize_entity_table(
            items, "item_id", what="items", file=str(path), line_of=line_of
        )

    def _read_pipe(self, path: Path, names: tuple[str, ...]) -> tuple[pa.Table, LineOf]:
        layout = Delimited(
            delimiter="|",
            header=False,
            names=names,
            quoting=False,
            encoding=self._encoding(path),
            types=dict.fromkeys(names, pa.string()),
        )
        return read_delimited(path, layout)

    def _pipe_table(self, path: Path, names: tuple[str, ...], key: str) -> pa.Table:
        table, line_of = self._read_pipe(path, names)
        what = "items" if key == "item_id" else "users"
        return normalize_entity_table(table, key, what=what, file=str(path), line_of=line_of)

    def _load_dat(self, ratings: Path, name: str) -> Dataset:
        table, line_of = read_lines_split(ratings, "::", INTERACTION_COLUMNS)
        interactions = normalize_interactions(table, file=str(ratings), line_of=line_of)
        items = users = None
        if self.options.items and (movies := ratings.parent / "movies.dat").is_file():
            items = self._dat_table(movies, ("item_id", "title", "genres"), "item_id")
        if self.options.users and (people := ratings.parent / "users.dat").is_file():
            columns = ("user_id", "gender", "age", "occupation", "zip_code")
            users = self._dat_table(people, columns, "user_id")
        return Dataset(interactions, items=items, users=users, name=name)

    def _dat_table(self, path: Path, names: tuple[str, ...], key: str) -> pa.Table:
        table, line_of = read_lines_split(path, "::", names, encoding=self._encoding(path))
        what = "items" if key == "item_id" else "users"
        return normalize_entity_table(table, key, what=what, file=str(path), line_of=line_of)

    def _load_csv(self, ratings: Path, name: str) -> Dataset:
        ids = {"userId": pa.string(), "movieId": pa.string()}
        table, line_of = read_delimited(ratings, Delimited(types=ids))
        expected = CSV_HEADER.split(",")
        if table.column_names[:4] != expected:
            raise DataError(
                f"expected the header {CSV_HEADER}, found {','.join(table.column_names)}",
                file=str(ratings),
                line=1,
            )
        table = table.rename_columns(
            [*INTERACTION_COLUMNS, *table.column_names[len(INTERACTION_COLUMNS) :]]
        )
        interactions = normalize_interactions(table, file=str(ratings), line_of=line_of)
        items = None
        if self.options.items and (movies := ratings.parent / "movies.csv").is_file():
            layout = Delimited(encoding=self._encoding(movies), types={"movieId": pa.string()})
            movie_table, movie_lines = read_delimited(movies, layout)
            if "movieId" not in movie_table.column_names:
                raise DataError("expected a movieId column in the header", file=str(movies), line=1)
            movie_table = movie_table.rename_columns(
                ["item_id" if c == "movieId" else c for c in movie_table.column_names]
            )
            items = normalize_entity_table(
                movie_table, "item_id", what="items", file=str(movies), line_of=movie_lines
            )
        return Dataset(interactions, items=items, name=name)


def _ratings_in(folder: Path) -> Path:
    for name in RATING_FILES:
        if _is_ratings_file(folder / name):
            return folder / name
    raise DataError(
        "folder holds no MovieLens ratings (u.data, ratings.dat or ratings.csv)", file=str(folder)
    )


def _is_ratings_file(path: Path) -> bool:
    if not path.is_file():
        return False
    if path.name != "ratings.csv":
        return True
    # ratings.csv is a common name: only MovieLens's own header makes it ours
    try:
        with open(path, "rb") as handle:
            first = handle.readline(200).decode("utf-8-sig", errors="replace").strip()
    except OSError:
        return False
    return first.replace('"', "").startswith(CSV_HEADER)
