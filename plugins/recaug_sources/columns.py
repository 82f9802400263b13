"""Matching a file's columns to recaug's, and bringing times to seconds.

Shared by every source that reads tables with arbitrary column names (``table``, ``recbole``,
``hf``): an explicit option (``-s user=userId``) wins, else a common alias is recognised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from recaug_core import DataError, Options, normalize_interactions

ALIASES: dict[str, tuple[str, ...]] = {
    "user_id": (
        "user_id",
        "userid",
        "user",
        "uid",
        "reviewerid",
        "customer_id",
        "visitorid",
        "session_id",
    ),
    "item_id": (
        "item_id",
        "itemid",
        "item",
        "iid",
        "movieid",
        "movie_id",
        "asin",
        "parent_asin",
        "product_id",
        "track_id",
        "news_id",
        "business_id",
        "book_id",
        "artist_id",
    ),
    "rating": ("rating", "ratings", "overall", "stars", "score_rating", "star_rating"),
    "timestamp": (
        "timestamp",
        "time",
        "ts",
        "unixreviewtime",
        "datetime",
        "date",
        "created_at",
    ),
}
TimeUnit = Literal["s", "ms", "us", "ns"]
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


class ColumnOptions(Options):
    """The column-mapping options of sources that read tables with arbitrary names."""

    user: str | None = Field(default=None, description="column holding user ids")
    item: str | None = Field(default=None, description="column holding item ids")
    rating: str | None = Field(default=None, description="column holding ratings")
    timestamp: str | None = Field(
        default=None, description="column holding times (numbers, ISO text or Arrow timestamps)"
    )
    time_unit: TimeUnit = Field(
        default="s", description="unit of numeric times: s, ms, us or ns (converted to seconds)"
    )

    def wanted(self) -> dict[str, str | None]:
        return {
            "user_id": self.user,
            "item_id": self.item,
            "rating": self.rating,
            "timestamp": self.timestamp,
        }


def find_alias(names: list[str], standard: str) -> str | None:
    """The column of ``names`` that commonly means ``standard`` (case-insensitive)."""
    lowered: dict[str, str] = {}
    for name in names:
        lowered.setdefault(name.lower(), name)
    for alias in ALIASES.get(standard, ()):
        if alias in lowered:
            return lowered[alias]
    return None


def column_mapping(
    names: list[str], wanted: Mapping[str, str | None], *, file: str | None
) -> dict[str, str]:
    """{column in the file: recaug name} from explicit choices, then aliases."""
    mapping: dict[str, str] = {}
    for standard, explicit in wanted.items():
        if explicit is not None:
            if explicit not in names:
                option = standard.removesuffix("_id")
                raise DataError(
                    f"option {option}={explicit}: no such column "
                    f"(columns present: {', '.join(names) or 'none'})",
                    file=file,
                )
            mapping[explicit] = standard
    for standard, explicit in wanted.items():
        if explicit is None and standard not in names and standard not in mapping.values():
            found = find_alias(names, standard)
            if found is not None and found not in mapping:
                mapping[found] = standard
    _require_ids(names, mapping, file)
    return mapping


def _require_ids(names: list[str], mapping: Mapping[str, str], file: str | None) -> None:
    """Without a user or an item column nothing can be read: say which option names it."""
    found = set(mapping.values()) | set(names)
    for standard in ("user_id", "item_id"):
        if standard in found:
            continue
        option = standard.removesuffix("_id")
        present = ", ".join(names) or "none"
        raise DataError(
            f"missing required column '{standard}': no {option} column among the columns "
            f"{present!r}; name it with the source "
            f"option {option}=COLUMN (-s {option}=COLUMN on the command line, options = "
            f'{{ {option} = "COLUMN" }} under [dataset] in an experiment file); the column '
            "options are user, item, rating and timestamp",
            file=file,
        )


def rename(table: pa.Table, mapping: Mapping[str, str]) -> pa.Table:
    """Rename by ``mapping``; a column renamed onto an existing name replaces that column."""
    clashing = [c for c in table.column_names if c in mapping.values() and c not in mapping]
    table = table.drop_columns(clashing)
    return table.rename_columns([mapping.get(c, c) for c in table.column_names])


def map_columns(table: pa.Table, wanted: Mapping[str, str | None], *, file: str | None) -> pa.Table:
    return rename(table, column_mapping(table.column_names, wanted, file=file))


def timestamps_to_seconds(table: pa.Table, unit: TimeUnit = "s") -> pa.Table:
    """Bring a ``timestamp`` column to whole seconds since 1970 (int64).

    Arrow timestamps and dates are converted; ISO-8601 text is parsed; numbers (or numeric
    text) are divided by ``unit`` and floored. Anything else is left for validation to report.
    """
    if "timestamp" not in table.column_names:
        return table
    column = table.column("timestamp")
    seconds: pa.ChunkedArray | None = None
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp(column.type.unit))
        seconds = column.cast(pa.timestamp("s"), safe=False).cast(pa.int64())
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        trimmed = pc.utf8_trim_whitespace(column)
        text = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)
        if pc.all(pc.fill_null(pc.utf8_is_digit(text), True)).as_py():
            seconds = _integers_to_seconds(text, unit)
        else:
            seconds = _numeric_text_to_seconds(text, unit) or _parse_iso(text)
    elif pa.types.is_integer(column.type):
        seconds = _integers_to_seconds(column, unit)
    elif pa.types.is_floating(column.type):
        seconds = _floats_to_seconds(column.cast(pa.float64()), unit)
    if seconds is None:
        return table
    index = table.column_names.index("timestamp")
    return table.set_column(index, "timestamp", seconds)


def _integers_to_seconds(column: pa.ChunkedArray, unit: TimeUnit) -> pa.ChunkedArray | None:
    try:
        numbers = column.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # beyond int64 (a uint64 or a long run of digits): validation names it
    per_second = _PER_SECOND[unit]
    if per_second == 1:
        return numbers
    values = np.asarray(numbers.fill_null(0).to_numpy(), dtype=np.int64) // per_second
    nulls = np.asarray(numbers.is_null().to_numpy(), dtype=bool)
    return pa.chunked_array([pa.array(values, mask=nulls if nulls.any() else None)])


def _floats_to_seconds(values: pa.ChunkedArray, unit: TimeUnit) -> pa.ChunkedArray | None:
    seconds = pc.floor(pc.divide(values, float(_PER_SECOND[unit])))
    fits = pc.and_(pc.is_finite(seconds), pc.less(pc.abs(seconds), 2.0**62))
    if not pc.all(pc.fill_null(fits, True)).as_py():
        return None  # validation names the first NaN, infinite or huge time
    return seconds.cast(pa.int64())


def _numeric_text_to_seconds(text: pa.ChunkedArray, unit: TimeUnit) -> pa.ChunkedArray | None:
    try:
        values = text.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return _floats_to_seconds(values, unit)


def _parse_iso(text: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """ISO-8601 text -> seconds, or None when some value is not such a time."""
    blank = pc.fill_null(pc.equal(text, ""), False)
    cleaned = pc.if_else(blank, None, text)
    try:
        parsed = cleaned.cast(pa.timestamp("s"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        try:
            parsed = cleaned.cast(pa.timestamp("s", "UTC")).cast(pa.timestamp("s"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None  # validation names the first value that is not a time
    return parsed.cast(pa.int64())


def normalize_rows(table: pa.Table, *, where: str) -> pa.Table:
    """``normalize_interactions`` for sources with rows rather than lines (Parquet, datasets):
    the error names ``where`` and the row."""
    try:
        return normalize_interactions(table)
    except DataError as error:
        raise DataError(error.reason, file=where, row=error.row, column=error.column) from None
