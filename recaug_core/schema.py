"""The interaction schema, and the validation every table passes on its way in.

``normalize_interactions`` casts a table to ``INTERACTION_SCHEMA`` (extra columns are kept after
the standard ones) and raises ``DataError`` naming the file, line (or row) and column of the
first bad value; ``normalize_entity_table`` does the same for items and users tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recaug_core.errors import DataError, shown

REAL = "real"
INTERACTION_SCHEMA = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("rating", pa.float32()),
        pa.field("timestamp", pa.int64()),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("parent_user", pa.string()),
        pa.field("score", pa.float32()),
    ]
)
STANDARD_COLUMNS = tuple(INTERACTION_SCHEMA.names)
REQUIRED_COLUMNS = ("user_id", "item_id")
# Times are seconds since 1970, up to the end of the year 9999 (what dates can show). A larger
# value is most often milliseconds (or finer) read as seconds: the error says which unit fits.
MAX_TIMESTAMP = 253_402_300_799
# Ids read as floating-point numbers must be exact whole numbers: beyond 2**53 they are not.
MAX_EXACT_FLOAT = 2.0**53
# An id made only of these is blank: spaces (any Unicode space, no-break space included),
# control characters and invisible format characters (zero-width space, byte order mark).
_BLANK_ID = r"^[\p{Z}\p{Cc}\p{Cf}]+$"

LineOf = Callable[[int], int]


def constant_strings(value: str, n: int) -> pa.Array:
    """``n`` copies of ``value`` as a string array, built from buffers: no Python object per
    row (tens of millions of rows take a fraction of a second)."""
    encoded = value.encode("utf-8")
    small = len(encoded) * n < 2**31  # int32 offsets, as pa.string() has
    offsets = np.arange(n + 1, dtype=np.int32 if small else np.int64) * len(encoded)
    kind = pa.string() if small else pa.large_string()
    array = pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(encoded * n)])
    return array if small else array.cast(pa.string())


TEXT_SCHEMA = pa.schema(
    [
        pa.field("entity", pa.string(), nullable=False),  # "item" or "user"
        pa.field("id", pa.string(), nullable=False),
        pa.field("column", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
    ]
)
GENERATED_MARK = b"recaug.generated_by"


def _row_where(file: str | None, line_of: LineOf | None, row: int) -> dict[str, Any]:
    """Where a 0-based row is: a file line when known, else the 1-based row."""
    if line_of is not None:
        return {"file": file, "line": line_of(row)}
    if file is not None:
        return {"file": file, "line": row + 1}
    return {"row": row + 1}


def normalize_interactions(
    table: pa.Table,
    *,
    file: str | None = None,
    line_of: LineOf | None = None,
) -> pa.Table:
    """Cast ``table`` to the interaction schema, adding missing optional columns.

    Raises ``DataError`` naming the column and the first offending row. ``line_of`` maps a
    0-based row to a line of ``file`` for the message.
    """
    if table.schema.names[: len(STANDARD_COLUMNS)] == list(STANDARD_COLUMNS) and all(
        table.schema.field(name).type == INTERACTION_SCHEMA.field(name).type
        for name in STANDARD_COLUMNS
    ):
        return table  # already normalised: the common case inside the pipeline
    names = table.column_names
    duplicated = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicated:
        raise DataError(f"column {shown(duplicated[0])} appears more than once", file=file)
    for name in REQUIRED_COLUMNS:
        if name not in names:
            present = ", ".join(names) or "none"
            raise DataError(
                f"missing required column '{name}' (columns present: {shown(present, 300)})",
                file=file,
            )
    n = table.num_rows
    columns: dict[str, pa.ChunkedArray] = {}
    for f in INTERACTION_SCHEMA:
        if f.name in names:
            columns[f.name] = _cast_column(table.column(f.name), f.type, f.name, file, line_of)
        elif f.name == "origin":
            columns[f.name] = pa.chunked_array([constant_strings(REAL, n)])
        else:
            columns[f.name] = pa.chunked_array([pa.nulls(n, f.type)])
    _check_values(columns, file, line_of)
    # extra columns by position: looking each up by name is quadratic in a wide table
    extras = [i for i, name in enumerate(names) if name not in STANDARD_COLUMNS]
    arrays = [columns[name] for name in STANDARD_COLUMNS] + [table.column(i) for i in extras]
    fields = list(INTERACTION_SCHEMA) + [table.schema.field(i) for i in extras]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _cast_column(
    column: pa.ChunkedArray,
    target: pa.DataType,
    name: str,
    file: str | None,
    line_of: LineOf | None,
) -> pa.ChunkedArray:
    if column.type == target:
        return column
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    _check_kind(column.type, target, name, file)
    if pa.types.is_floating(column.type) and pa.types.is_string(target):
        # ids read as floats (1.0) would become "1.0": insist on integral values
        return _cast_column(_integral(column, name, file, line_of), target, name, file, line_of)
    if _is_text(column.type) and not pa.types.is_string(target):
        column = pc.utf8_trim_whitespace(column)
        column = pc.if_else(pc.equal(column, ""), pa.scalar(None, column.type), column)
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        column = column.cast(pa.timestamp("s", getattr(column.type, "tz", None)), safe=False)
    # a rating of 16777217 or 10**20 is a number, if not an exact float32: only text is parsed
    safe = not (pa.types.is_floating(target) and not _is_text(column.type))
    try:
        return column.cast(target, safe=safe)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    row = _first_uncastable(column, target)
    value = column[row].as_py() if row is not None else None
    where = _row_where(file, line_of, row or 0)
    if name == "timestamp" and isinstance(value, (int, float)):
        raise DataError(_time_out_of_range(value), column=name, **where)
    kind = (
        "a number" if pa.types.is_floating(target) or pa.types.is_integer(target) else str(target)
    )
    if pa.types.is_integer(target) and isinstance(value, (int, float)):
        kind = f"a whole number within the range of {target}"  # a number, but 1.5 or 1e300
    elif name == "timestamp":
        kind = (
            "a time: give seconds since 1970 (another unit with the source option time_unit) "
            "or ISO-8601 text such as 2020-01-03 or 2020-01-03T10:00:00"
        )
    raise DataError(
        f"value {shown(value)} is not {kind}",
        column=name,
        **where,
    )


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _check_kind(kind: pa.DataType, target: pa.DataType, name: str, file: str | None) -> None:
    """Refuse a column whose type cannot mean what ``name`` holds, whatever its values: Arrow
    would turn a date into an id, or a duration into a time, without a word."""
    t = pa.types
    if t.is_null(kind) or _is_text(kind) or t.is_integer(kind) or t.is_floating(kind):
        return
    if t.is_string(target):
        binary = t.is_binary(kind) or t.is_large_binary(kind) or t.is_fixed_size_binary(kind)
        if binary or (t.is_decimal(kind) and kind.scale == 0):
            return  # text as bytes (checked as UTF-8), whole numbers as decimals
        what = "ids (text or whole numbers)"
    elif t.is_floating(target):
        if t.is_decimal(kind) or t.is_boolean(kind):
            return
        what = "numbers"
    else:
        if t.is_timestamp(kind) or t.is_date(kind):
            return
        what = "times (seconds since 1970)"
    raise DataError(f"holds values of type {kind}, which cannot be {what}", file=file, column=name)


def _integral(
    column: pa.ChunkedArray, name: str, file: str | None, line_of: LineOf | None
) -> pa.ChunkedArray:
    values = column.to_numpy()
    nan = np.isnan(values) & ~np.asarray(column.is_null().to_numpy(), dtype=bool)
    fractional = ~np.isnan(values) & (np.floor(values) != values)
    bad = np.flatnonzero(nan | fractional)
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"id {float(values[row])!r} is not a whole number or text",
            column=name,
            **_row_where(file, line_of, row),
        )
    huge = np.flatnonzero(np.abs(np.nan_to_num(values)) > MAX_EXACT_FLOAT)
    if len(huge):
        row = int(huge[0])
        raise DataError(
            f"id {float(values[row])!r} is too large to be an exact whole number "
            "(store ids as text or integers)",
            column=name,
            **_row_where(file, line_of, row),
        )
    return column.cast(pa.int64())


def _first_uncastable(column: pa.ChunkedArray, target: pa.DataType) -> int | None:
    """The first row that does not cast, found by halving: O(n) casting, no loop per row."""
    offset = 0
    for chunk in column.chunks:
        if not _casts(chunk, target):
            lo, hi = 0, len(chunk)  # chunk[lo:hi] holds the first failure
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _casts(chunk.slice(lo, mid - lo), target):
                    lo = mid
                else:
                    hi = mid
            return offset + lo
        offset += len(chunk)
    return None


def _casts(values: pa.Array, target: pa.DataType) -> bool:
    try:
        values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _first_true(mask: pa.ChunkedArray | pa.Array) -> int | None:
    values = mask.to_numpy(zero_copy_only=False) if isinstance(mask, pa.Array) else mask.to_numpy()
    hits = np.flatnonzero(np.asarray(values, dtype=bool))
    return int(hits[0]) if len(hits) else None


def check_values(table: pa.Table) -> None:
    """The value checks of ``normalize_interactions``, on a table already in the interaction
    schema (which ``normalize_interactions`` returns as it is): ``DataError`` naming the row.
    For tables that come from plugin code, which may hold anything the schema allows."""
    columns = {name: table.column(name) for name in STANDARD_COLUMNS}
    _check_values(columns, None, None, unit_hint=False)
    parents = columns["parent_user"]
    if parents.null_count < len(parents):
        blank = pc.or_(
            pc.equal(pc.utf8_length(parents), 0), pc.match_substring_regex(parents, _BLANK_ID)
        )
        row = _first_true(pc.fill_null(blank, False))
        if row is not None:
            raise DataError(
                f"id {shown(parents[row].as_py())} is empty or only spaces",
                column="parent_user",
                row=row + 1,
            )


def _check_values(
    columns: dict[str, pa.ChunkedArray],
    file: str | None,
    line_of: LineOf | None,
    *,
    unit_hint: bool = True,
) -> None:
    for name in REQUIRED_COLUMNS:
        _check_ids(columns[name], name, file, line_of)
    _check_ids(columns["origin"], "origin", file, line_of, blank=False)  # a name, not an id
    _check_finite(columns["rating"], "rating", file, line_of)
    _check_finite(columns["score"], "score", file, line_of)
    _check_times(columns["timestamp"], file, line_of, unit_hint=unit_hint)


def _check_ids(
    column: pa.ChunkedArray,
    name: str,
    file: str | None,
    line_of: LineOf | None,
    *,
    blank: bool = True,
) -> None:
    if column.null_count:
        row = _first_true(column.is_null())
        assert row is not None
        raise DataError(
            "missing value",
            column=name,
            **_row_where(file, line_of, row),
        )
    empty = pc.equal(pc.utf8_length(column), 0)
    row = _first_true(empty)
    if row is not None:
        raise DataError(
            "empty id",
            column=name,
            **_row_where(file, line_of, row),
        )
    row = _first_true(pc.match_substring_regex(column, _BLANK_ID)) if blank else None
    if row is not None:
        raise DataError(
            f"id {shown(column[row].as_py())} holds only spaces or invisible characters",
            column=name,
            **_row_where(file, line_of, row),
        )


def _check_finite(
    column: pa.ChunkedArray, name: str, file: str | None, line_of: LineOf | None
) -> None:
    if column.null_count == len(column):
        return
    bad = pc.fill_null(pc.invert(pc.is_finite(column)), False)
    row = _first_true(bad)
    if row is not None:
        raise DataError(
            f"value {column[row].as_py()} is not a finite number",
            column=name,
            **_row_where(file, line_of, row),
        )


def _check_times(
    column: pa.ChunkedArray,
    file: str | None,
    line_of: LineOf | None,
    *,
    unit_hint: bool = True,
) -> None:
    """Seconds since 1970, from 0 to ``MAX_TIMESTAMP`` (the end of the year 9999)."""
    if column.null_count == len(column):
        return
    bad = pc.fill_null(pc.or_(pc.less(column, 0), pc.greater(column, MAX_TIMESTAMP)), False)
    row = _first_true(bad)
    if row is not None:
        value = column[row].as_py()
        message = (
            f"negative timestamp {value} (expected seconds since 1970)"
            if value < 0
            else _time_out_of_range(value, unit_hint=unit_hint)
        )
        raise DataError(message, column="timestamp", **_row_where(file, line_of, row))


def _time_out_of_range(value: float, *, unit_hint: bool = True) -> str:
    """Why a time is refused, with the unit it would fit in if there is one (as the source
    option ``time_unit`` to pass, with ``unit_hint``)."""
    if value != value or value < 0:
        return f"timestamp {shown(value)} is not seconds since 1970"
    if value <= MAX_TIMESTAMP:
        return f"timestamp {shown(value)} is not a whole number of seconds since 1970"
    message = f"timestamp {shown(value)} is not seconds since 1970 (it falls after the year 9999)"
    if not unit_hint:
        return message
    for unit, per_second in (("ms", 1_000), ("us", 1_000_000), ("ns", 1_000_000_000)):
        if value / per_second <= MAX_TIMESTAMP:
            return f"{message}; if the times are in {unit}, pass -s time_unit={unit}"
    return message


def normalize_entity_table(
    table: pa.Table, key: str, *, what: str, file: str | None = None, line_of: LineOf | None = None
) -> pa.Table:
    """Check an items/users table: a unique, non-empty string ``key`` column first."""
    if key not in table.column_names:
        present = ", ".join(table.column_names) or "none"
        raise DataError(
            f"{what} table has no '{key}' column (columns present: {present})", file=file
        )
    column = _cast_column(table.column(key), pa.string(), key, file, line_of)
    _check_ids(column, key, file, line_of)
    counts = pc.value_counts(column.combine_chunks() if column.num_chunks != 1 else column.chunk(0))
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(repeated):
        dup = repeated[0]["values"].as_py()
        rows = np.flatnonzero(pc.equal(column, dup).to_numpy(zero_copy_only=False))
        where = _row_where(file, line_of, int(rows[1]))
        raise DataError(f"{what}: {key} {shown(dup)} appears more than once", column=key, **where)
    others = [name for name in table.column_names if name != key]
    return pa.Table.from_arrays(
        [column] + [table.column(x) for x in others],
        schema=pa.schema([pa.field(key, pa.string())] + [table.schema.field(x) for x in others]),
    )
