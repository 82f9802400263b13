"""`mind`: the MIND news-recommendation dataset (``behaviors.tsv`` + ``news.tsv``).

``behaviors.tsv`` rows are impressions: id, user, time (``11/15/2019 8:55:22 AM``), the
user's click history (space-separated news ids) and the impressions (``N123-1 N456-0``, 1 for
a click). Interactions are the clicked impressions, at the impression's time, and the
history clicks, which precede the log: taken from each user's first impression and timed one
second before it, in list order. ``news.tsv`` gives the items' category, subcategory, title and
abstract. Everything is split and exploded with Arrow compute, never row by row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
from recaug_sources.readers import Delimited, LineOf, first_true, read_delimited

BEHAVIOR_COLUMNS = ("impression_id", "user_id", "time", "history", "impressions")
NEWS_COLUMNS = (
    "item_id",
    "category",
    "subcategory",
    "title",
    "abstract",
    "url",
    "title_entities",
    "abstract_entities",
)
ITEM_COLUMNS = ("item_id", "category", "subcategory", "title", "abstract")
TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"


class MindOptions(Options):
    history: bool = Field(
        default=True, description="include the clicks of each user's history list"
    )
    news: str | None = Field(
        default=None, description="news file with titles (default: news.tsv beside behaviors)"
    )


class MindSource(DataSource):
    name = "mind"
    description = "MIND news: behaviors.tsv clicks (history and impressions) with news.tsv."
    Options = MindOptions
    options: MindOptions
    priority = 10

    @classmethod
    def can_load(cls, ref: str) -> bool:
        path = Path(ref)
        if path.is_dir():
            return (path / "behaviors.tsv").is_file()
        return path.name == "behaviors.tsv"

    def load(self, ref: str) -> Dataset:
        path = Path(ref)
        behaviors = path / "behaviors.tsv" if path.is_dir() else path
        table, line_of = read_delimited(behaviors, _tsv(BEHAVIOR_COLUMNS))
        where = str(behaviors)
        _check_users(table.column("user_id"), where, line_of)
        times = _parse_times(table.column("time"), where, line_of)
        parts = [_clicked_impressions(table, times, where, line_of)]
        if self.options.history:
            parts.append(_history_clicks(table, times))
        interactions = normalize_interactions(pa.concat_tables(parts))
        news = Path(self.options.news) if self.options.news else behaviors.parent / "news.tsv"
        items = _read_news(news) if self.options.news or news.is_file() else None
        folder = behaviors.parent.resolve().name or "mind"
        return Dataset(interactions, items=items, name=folder)


def _tsv(names: tuple[str, ...]) -> Delimited:
    # MIND text is not quoted: a '"' in a title is an ordinary character
    return Delimited(
        delimiter="\t",
        header=False,
        names=names,
        quoting=False,
        types=dict.fromkeys(names, pa.string()),
    )


def _parse_times(column: pa.ChunkedArray, where: str, line_of: LineOf) -> pa.ChunkedArray:
    parsed = pc.strptime(
        pc.utf8_trim_whitespace(column), format=TIME_FORMAT, unit="s", error_is_null=True
    )
    if parsed.null_count:
        row = first_true(parsed.is_null())
        raise DataError(
            f"time {column[row].as_py()!r} is not like 11/15/2019 8:55:22 AM",
            file=where,
            line=line_of(row),
            column="time",
        )
    seconds = parsed.cast(pa.int64())
    early = pc.less(seconds, 1)  # history clicks are timed a second earlier
    if pc.any(early).as_py():
        row = first_true(early)
        raise DataError(
            f"time {column[row].as_py()!r} is before 1970",
            file=where,
            line=line_of(row),
            column="time",
        )
    return seconds


def _check_users(users: pa.ChunkedArray, where: str, line_of: LineOf) -> None:
    empty = pc.equal(pc.utf8_trim_whitespace(users), "")
    if pc.any(empty).as_py():
        raise DataError(
            "empty user id", file=where, line=line_of(first_true(empty)), column="user_id"
        )


def _tokens(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Space-separated tokens of every row, flattened, with the row each came from."""
    lists = pc.split_pattern(pc.utf8_trim_whitespace(column), " ").combine_chunks()
    tokens = pc.list_flatten(lists)
    rows = np.asarray(pc.list_parent_indices(lists).to_numpy(), dtype=np.int64)
    present = np.asarray(pc.not_equal(tokens, "").to_numpy(zero_copy_only=False), dtype=bool)
    return tokens.filter(pa.array(present)), rows[present]


def _clicked_impressions(
    table: pa.Table, times: pa.ChunkedArray, where: str, line_of: LineOf
) -> pa.Table:
    tokens, rows = _tokens(table.column("impressions"))
    clicked = pc.ends_with(tokens, "-1")
    labelled = pc.or_(clicked, pc.ends_with(tokens, "-0"))
    # Test files list impressions without labels ("N123"): nothing is known to be clicked.
    unlabelled = pc.invert(pc.match_substring(tokens, "-"))
    news = pc.utf8_slice_codeunits(tokens, 0, -2)
    bad = pc.or_(
        pc.invert(pc.or_(labelled, unlabelled)),
        pc.and_(labelled, pc.equal(news, "")),
    )
    if pc.any(bad).as_py():
        at = first_true(bad)
        raise DataError(
            f"impression {tokens[at].as_py()!r} is not NEWS_ID-1, NEWS_ID-0 or NEWS_ID",
            file=where,
            line=line_of(int(rows[at])),
            column="impressions",
        )
    keep = np.asarray(clicked.to_numpy(zero_copy_only=False), dtype=bool)
    rows = pa.array(rows[keep])
    return _interactions(table.column("user_id").take(rows), news.filter(clicked), times.take(rows))


def _history_clicks(table: pa.Table, times: pa.ChunkedArray) -> pa.Table:
    users = table.column("user_id")
    codes = np.asarray(pc.index_in(users, value_set=pc.unique(users)).to_numpy(), dtype=np.int64)
    stamps = np.asarray(times.to_numpy(), dtype=np.int64)
    order = np.lexsort((np.arange(len(codes)), stamps, codes))
    first_rows = order[np.r_[True, codes[order][1:] != codes[order][:-1]]]
    first_rows.sort()  # keep file order among users
    firsts = table.take(pa.array(first_rows))
    tokens, rows = _tokens(firsts.column("history"))
    take = pa.array(rows)
    before = pc.subtract(times.take(pa.array(first_rows)), 1)
    return _interactions(firsts.column("user_id").take(take), tokens, before.take(take))


def _interactions(users: pa.Array, items: pa.Array, times: pa.Array) -> pa.Table:
    return pa.table({"user_id": users, "item_id": items, "timestamp": times})


def _read_news(path: Path) -> pa.Table:
    table, line_of = read_delimited(path, _tsv(NEWS_COLUMNS))
    items = table.select(list(ITEM_COLUMNS))
    return normalize_entity_table(items, "item_id", what="items", file=str(path), line_of=line_of)
