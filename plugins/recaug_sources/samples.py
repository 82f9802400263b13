"""Small fabricated inputs in every layout the bundled sources read.

The rows are invented (no real dataset is copied); the same dozen ratings appear in every
format, so each source must load them into the same interactions. Used by the sources'
contract tests and the malformed-input corpus, and handy for trying a source::

    python -c "from recaug_sources import samples; print(samples.write('movielens-1m', 'x'))"
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from recaug_sources.movielens import GENRES_100K

# (user, item, rating, unix seconds): 4 users, 6 items
RATINGS: tuple[tuple[str, str, float, int], ...] = (
    ("1", "10", 4.0, 881250949),
    ("1", "11", 3.0, 881250960),
    ("1", "12", 5.0, 881251000),
    ("2", "10", 2.0, 882000000),
    ("2", "13", 4.5, 882000100),
    ("2", "14", 1.0, 882000200),
    ("3", "11", 4.0, 883000000),
    ("3", "12", 3.5, 883000050),
    ("3", "15", 5.0, 883000090),
    ("4", "10", 3.0, 884000000),
    ("4", "14", 2.5, 884000010),
    ("4", "15", 4.0, 884000020),
)
N_USERS, N_ITEMS = 4, 6
# item: (title, year, genres)
MOVIES = {
    "10": ("The Quiet Harbour", 1994, ("Drama",)),
    "11": ("Glass Orchard", 1995, ("Comedy", "Romance")),
    "12": ("Nine Lanterns", 1995, ("Action", "Sci-Fi")),
    "13": ("Paper Comet", 1996, ("Animation", "Children's")),
    "14": ("Salt & Signal", 1996, ("Thriller",)),
    "15": ('The "Late" Ferry', 1997, ("Drama", "War")),
}
USERS = {
    "1": ("24", "M", "technician"),
    "2": ("53", "F", "writer"),
    "3": ("33", "F", "artist"),
    "4": ("42", "M", "doctor"),
}


def write(kind: str, folder: str | Path) -> str:
    """Write the sample ``kind`` (see ``WRITERS``) into ``folder``; return the ref to load."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    return WRITERS[kind](target)


def table_csv(folder: Path) -> str:
    path = folder / "ratings.csv"
    lines = ["user_id,item_id,rating,timestamp"]
    lines += [f"{u},{i},{r:g},{t}" for u, i, r, t in RATINGS]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def table_folder(folder: Path) -> str:
    """``interactions.tsv`` with renamed columns, ``items.csv`` and ``users.jsonl``."""
    lines = ["userId\tmovieId\tstars\ttime"]
    lines += [f"u{u}\tm{i}\t{r:g}\t{t}" for u, i, r, t in RATINGS]
    (folder / "interactions.tsv").write_text("\n".join(lines) + "\n")
    items = ["item_id,title,genres"]
    items += [f'm{i},"{_csv_quote(title)}",{"|".join(g)}' for i, (title, _, g) in MOVIES.items()]
    (folder / "items.csv").write_text("\n".join(items) + "\n")
    users = [
        json.dumps({"user_id": f"u{u}", "age": int(a), "gender": g})
        for u, (a, g, _) in USERS.items()
    ]
    (folder / "users.jsonl").write_text("\n".join(users) + "\n")
    return str(folder)


def table_jsonl_gz(folder: Path) -> str:
    path = folder / "events.jsonl.gz"
    rows = [{"user": u, "item": i, "rating": r, "timestamp": t} for u, i, r, t in RATINGS]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(row) for row in rows) + "\n")
    return str(path)


def table_parquet(folder: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "ratings.parquet"
    columns = list(zip(*RATINGS))
    table = pa.table(
        {
            "user_id": pa.array(columns[0]),
            "item_id": pa.array(columns[1]),
            "rating": pa.array(columns[2], pa.float32()),
            "timestamp": pa.array(columns[3], pa.int64()),
        }
    )
    pq.write_table(table, path)
    return str(path)


def recbole(folder: Path) -> str:
    """``toy/toy.inter``, ``toy.item`` (with a token_seq title) and ``toy.user``."""
    base = folder / "toy"
    base.mkdir(exist_ok=True)
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    inter += [f"{u}\t{i}\t{r:g}\t{t}" for u, i, r, t in RATINGS]
    (base / "toy.inter").write_text("\n".join(inter) + "\n")
    item = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    item += [f"{i}\t{title}\t{year}\t{' '.join(g)}" for i, (title, year, g) in MOVIES.items()]
    (base / "toy.item").write_text("\n".join(item) + "\n")
    user = ["user_id:token\tage:token\tgender:token\toccupation:token"]
    user += [f"{u}\t{a}\t{g}\t{o}" for u, (a, g, o) in USERS.items()]
    (base / "toy.user").write_text("\n".join(user) + "\n")
    return str(base)


def movielens_100k(folder: Path) -> str:
    """``u.data`` (tabs), ``u.item`` (latin-1, genre flags) and ``u.user``."""
    base = folder / "ml-100k"
    base.mkdir(exist_ok=True)
    data = [f"{u}\t{i}\t{r:g}\t{t}" for u, i, r, t in RATINGS if r == int(r)]
    (base / "u.data").write_text("\n".join(data) + "\n")
    lines = []
    for item, (title, year, genres) in MOVIES.items():
        flags = "|".join("1" if g in genres else "0" for g in GENRES_100K)
        # an accented title shows the file is latin-1, as GroupLens wrote it
        shown = title.replace("Orchard", "Orchárd")
        lines.append(
            f"{item}|{shown} ({year})|01-Jan-{year}||http://example.invalid/{item}|{flags}"
        )
    (base / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    users = [f"{u}|{a}|{g}|{o}|0000{u}" for u, (a, g, o) in USERS.items()]
    (base / "u.user").write_text("\n".join(users) + "\n")
    return str(base)


def movielens_1m(folder: Path) -> str:
    """``ratings.dat``, ``movies.dat`` (latin-1) and ``users.dat``, ``::``-separated."""
    base = folder / "ml-1m"
    base.mkdir(exist_ok=True)
    data = [f"{u}::{i}::{r:g}::{t}" for u, i, r, t in RATINGS if r == int(r)]
    (base / "ratings.dat").write_text("\n".join(data) + "\n")
    movies = [
        f"{i}::{t.replace('Orchard', 'Orchárd')} ({y})::{'|'.join(g)}"
        for i, (t, y, g) in MOVIES.items()
    ]
    (base / "movies.dat").write_bytes(("\n".join(movies) + "\n").encode("latin-1"))
    users = [f"{u}::{g}::{a}::{o}::0000{u}" for u, (a, g, o) in USERS.items()]
    (base / "users.dat").write_text("\n".join(users) + "\n")
    return str(base)


def movielens_25m(folder: Path) -> str:
    """``ratings.csv`` and ``movies.csv`` with headers, quoted titles, UTF-8."""
    base = folder / "ml-25m"
    base.mkdir(exist_ok=True)
    data = ["userId,movieId,rating,timestamp"] + [f"{u},{i},{r:g},{t}" for u, i, r, t in RATINGS]
    (base / "ratings.csv").write_text("\n".join(data) + "\n")
    movies = ["movieId,title,genres"]
    movies += [f'{i},"{_csv_quote(t)} ({y}), The",{"|".join(g)}' for i, (t, y, g) in MOVIES.items()]
    (base / "movies.csv").write_text("\n".join(movies) + "\n", encoding="utf-8")
    return str(base)


def amazon_2018(folder: Path) -> str:
    """``Toys_5.json.gz`` reviews and ``meta_Toys.json.gz`` (with a repeated product)."""
    reviews = [
        {
            "overall": r,
            "verified": True,
            "reviewTime": "01 1, 2000",
            "reviewerID": f"A{u}X",
            "asin": f"B0{i}",
            "style": {"Size:": " Large"} if u == "2" else None,
            "reviewText": "Fabricated review text.",
            "unixReviewTime": t,
        }
        for u, i, r, t in RATINGS
    ]
    _write_jsonl_gz(folder / "Toys_5.json.gz", reviews)
    meta = [
        {
            "asin": f"B0{i}",
            "title": title,
            "brand": "Acme",
            "category": ["Toys", genres[0]],
            "description": ["A fabricated product.", f"Made in {year}."],
            "rank": "1 in Toys" if i == "10" else ["2 in Toys"],
        }
        for i, (title, year, genres) in MOVIES.items()
    ]
    _write_jsonl_gz(folder / "meta_Toys.json.gz", [*meta, meta[0]])
    return str(folder / "Toys_5.json.gz")


def amazon_2023(folder: Path) -> str:
    """``Books.jsonl`` reviews (milliseconds) and ``meta_Books.jsonl``, in a folder."""
    base = folder / "amazon23"
    base.mkdir(exist_ok=True)
    reviews = [
        {
            "rating": r,
            "title": "Fabricated",
            "text": "Fabricated review text.",
            "images": [],
            "asin": f"C{i}-v",
            "parent_asin": f"C{i}",
            "user_id": f"AG{u}",
            "timestamp": t * 1000 + 123,
            "helpful_vote": 0,
            "verified_purchase": True,
        }
        for u, i, r, t in RATINGS
    ]
    (base / "Books.jsonl").write_text("\n".join(json.dumps(r) for r in reviews) + "\n")
    meta = [
        {
            "main_category": "Books",
            "title": title,
            "average_rating": 4.1,
            "features": [],
            "description": ["A fabricated book."],
            "price": None if i == "10" else 9.99,
            "store": "Acme Press",
            "categories": ["Books", genres[0]],
            "details": {"Pages": 100} if i == "11" else {"Language": "English"},
            "parent_asin": f"C{i}",
        }
        for i, (title, _, genres) in MOVIES.items()
    ]
    (base / "meta_Books.jsonl").write_text("\n".join(json.dumps(m) for m in meta) + "\n")
    return str(base)


# MIND: (impression, user, time, history, impressions), fabricated
MIND_BEHAVIORS = (
    ("1", "U1", "11/15/2019 8:55:22 AM", "N10 N11", "N12-1 N13-0"),
    ("2", "U2", "11/15/2019 9:00:00 AM", "", "N10-0 N13-1 N14-1"),
    ("3", "U1", "11/15/2019 1:05:00 PM", "N10 N11", "N14-0 N15-0"),
    ("4", "U3", "11/16/2019 12:30:00 AM", "N11", "N12-1 N15-1"),
    ("5", "U4", "11/16/2019 7:45:10 PM", "N10 N14", "N15-1 N11-0"),
)
MIND_INTERACTIONS = 11  # 5 history clicks (U1's history counted once) + 6 clicked impressions


def mind(folder: Path) -> str:
    """``behaviors.tsv`` and ``news.tsv`` (no headers, tab-separated)."""
    base = folder / "MINDtoy_train"
    base.mkdir(exist_ok=True)
    (base / "behaviors.tsv").write_text("\n".join("\t".join(b) for b in MIND_BEHAVIORS) + "\n")
    news = [
        f"N{i}\tnews\tgenre{len(g)}\t{title}\tAn abstract about {title}.\t"
        f"https://example.invalid/N{i}\t[]\t[]"
        for i, (title, _, g) in MOVIES.items()
    ]
    (base / "news.tsv").write_text("\n".join(news) + "\n")
    return str(base)


def hf_saved(folder: Path) -> str:
    """A ``datasets`` DatasetDict saved with ``save_to_disk`` (train: the ratings; test: 2)."""
    import datasets

    columns = list(zip(*RATINGS))
    train = datasets.Dataset.from_dict(
        {
            "user": list(columns[0]),
            "item": list(columns[1]),
            "rating": list(columns[2]),
            "timestamp": list(columns[3]),
        }
    )
    splits = datasets.DatasetDict({"train": train, "test": train.select(range(2))})
    path = folder / "hf-saved"
    splits.save_to_disk(str(path))
    return str(path)


def hf_files(folder: Path) -> str:
    """A folder of data files that ``load_dataset`` reads with its csv builder: ``hf:FOLDER``."""
    base = folder / "hf-files"
    base.mkdir(exist_ok=True)
    table_csv(base)
    return f"hf:{base}"


def _csv_quote(text: str) -> str:
    return text.replace('"', '""')


def _write_jsonl_gz(path: Path, rows: Sequence[object]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(row) for row in rows) + "\n")


WRITERS: dict[str, Callable[[Path], str]] = {
    "table-csv": table_csv,
    "table-folder": table_folder,
    "table-jsonl-gz": table_jsonl_gz,
    "table-parquet": table_parquet,
    "recbole": recbole,
    "movielens-100k": movielens_100k,
    "movielens-1m": movielens_1m,
    "movielens-25m": movielens_25m,
    "amazon-2018": amazon_2018,
    "amazon-2023": amazon_2023,
    "mind": mind,
    "hf-saved": hf_saved,
    "hf-files": hf_files,
}
