"""The data model: interactions, items and users as Arrow tables, validated on the way in.

``interactions`` always has the columns of ``INTERACTION_SCHEMA`` (extra columns are kept after
them). Models never invent id schemes: they map ids through an ``IdIndex``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
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


# -- id mapping ------------------------------------------------------------------------------


class IdIndex:
    """A bijection between string ids and contiguous integers ``0..n-1`` (vectorised)."""

    def __init__(self, ids: pa.Array | pa.ChunkedArray | Sequence[str]) -> None:
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        elif not isinstance(ids, pa.Array):
            ids = pa.array(list(ids), pa.string())
        if ids.type != pa.string():
            ids = ids.cast(pa.string())
        self.ids: pa.Array = ids

    @classmethod
    def from_columns(cls, *columns: pa.Array | pa.ChunkedArray | None) -> IdIndex:
        """Unique ids in order of first appearance across ``columns``."""
        parts: list[pa.Array] = []
        for column in columns:
            if column is None:
                continue
            if isinstance(column, pa.ChunkedArray):
                parts.extend(column.chunks)
            else:
                parts.append(column)
        if not parts:
            return cls(pa.array([], pa.string()))
        merged = pa.chunked_array([p.cast(pa.string()) for p in parts], pa.string())
        return cls(pc.unique(merged))

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, value: object) -> bool:
        return bool(pc.is_in(pa.array([value], pa.string()), value_set=self.ids)[0].as_py())

    def lookup(self, values: pa.Array | pa.ChunkedArray | Sequence[str]) -> np.ndarray:
        """Integer index of each value, ``-1`` where the id is unknown."""
        if not isinstance(values, (pa.Array, pa.ChunkedArray)):
            values = pa.array(list(values), pa.string())
        found = pc.index_in(values, value_set=self.ids)
        if isinstance(found, pa.ChunkedArray):
            found = found.combine_chunks() if found.num_chunks else pa.array([], pa.int32())
        return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)

    def indices(self, values: pa.Array | pa.ChunkedArray | Sequence[str]) -> np.ndarray:
        """Like ``lookup`` but every value must be known (KeyError naming the first that is not)."""
        if not isinstance(values, (pa.Array, pa.ChunkedArray)):
            values = pa.array(list(values), pa.string())
        idx = self.lookup(values)
        if len(idx) and idx.min() < 0:
            first = int(np.flatnonzero(idx < 0)[0])
            raise KeyError(f"unknown id {values[first].as_py()!r}")
        return idx

    def to_ids(self, idx: np.ndarray | Sequence[int]) -> pa.Array:
        return self.ids.take(pa.array(np.asarray(idx, dtype=np.int64)))

    def extend(self, values: pa.Array | pa.ChunkedArray | Sequence[str]) -> IdIndex:
        """A new index with unseen ``values`` appended; existing ids keep their integers."""
        extra = IdIndex.from_columns(
            values
            if isinstance(values, (pa.Array, pa.ChunkedArray))
            else pa.array(list(values), pa.string())
        )
        new = extra.ids.filter(pc.invert(pc.is_in(extra.ids, value_set=self.ids)))
        if len(new) == 0:
            return self
        return IdIndex(pa.concat_arrays([self.ids, new]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdIndex) and self.ids.equals(other.ids)

    def __repr__(self) -> str:
        return f"IdIndex({len(self)} ids)"


# -- the dataset -----------------------------------------------------------------------------


@dataclass
class Dataset:
    """Interactions plus optional item and user tables.

    ``user_index`` and ``item_index`` default to every id in the tables; splits and augmented
    training sets pass the parent's indexes so that integer ids mean the same thing everywhere.
    """

    interactions: pa.Table
    items: pa.Table | None = None
    users: pa.Table | None = None
    name: str = "data"
    user_index_: IdIndex | None = field(default=None, repr=False)
    item_index_: IdIndex | None = field(default=None, repr=False)
    # Evaluation asks for a part's codes and real rows several times; pyarrow tables are
    # immutable, so both are kept with the very table (and indexes) they were derived from.
    _memo: dict[str, tuple[tuple[object, ...], Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.interactions = normalize_interactions(self.interactions)
        if self.items is not None:
            self.items = normalize_entity_table(self.items, "item_id", what="items")
        if self.users is not None:
            self.users = normalize_entity_table(self.users, "user_id", what="users")

    @property
    def user_index(self) -> IdIndex:
        if self.user_index_ is None:
            users = self.users.column("user_id") if self.users is not None else None
            self.user_index_ = IdIndex.from_columns(self.interactions.column("user_id"), users)
        return self.user_index_

    @property
    def item_index(self) -> IdIndex:
        if self.item_index_ is None:
            items = self.items.column("item_id") if self.items is not None else None
            self.item_index_ = IdIndex.from_columns(items, self.interactions.column("item_id"))
        return self.item_index_

    @property
    def n_users(self) -> int:
        return len(self.user_index)

    @property
    def n_items(self) -> int:
        return len(self.item_index)

    def __len__(self) -> int:
        return self.interactions.num_rows

    def with_interactions(self, interactions: pa.Table, *, extend_users: bool = False) -> Dataset:
        """Same items, users and indexes, other interactions (new users appended if asked)."""
        user_index = self.user_index
        if extend_users:
            user_index = user_index.extend(interactions.column("user_id"))
        return replace(
            self,
            interactions=interactions,
            user_index_=user_index,
            item_index_=self.item_index,
        )

    def _remember(self, name: str, compute: Callable[[], Any]) -> Any:
        source = (self.interactions, self.user_index, self.item_index)
        kept = self._memo.get(name)
        if kept is None or any(a is not b for a, b in zip(kept[0], source, strict=True)):
            kept = (source, compute())
            self._memo[name] = kept
        return kept[1]

    def codes(self) -> tuple[np.ndarray, np.ndarray]:
        """(user index, item index) of every interaction row, as read-only int64 arrays."""

        def compute() -> tuple[np.ndarray, np.ndarray]:
            users = self.user_index.indices(self.interactions.column("user_id"))
            items = self.item_index.indices(self.interactions.column("item_id"))
            users.flags.writeable = items.flags.writeable = False
            return users, items

        codes: tuple[np.ndarray, np.ndarray] = self._remember("codes", compute)
        return codes

    def real(self) -> Dataset:
        """Only the real (non-synthetic) interactions."""

        def compute() -> Dataset:
            mask = pc.equal(self.interactions.column("origin"), REAL)
            return self.with_interactions(self.interactions.filter(mask))

        real: Dataset = self._remember("real", compute)
        return real

    def user_lengths(self) -> np.ndarray:
        """Interactions per user, aligned with ``user_index``."""
        users, _ = self.codes()
        return np.bincount(users, minlength=self.n_users)

    def item_popularity(self) -> np.ndarray:
        """Interactions per item, aligned with ``item_index``."""
        _, items = self.codes()
        return np.bincount(items, minlength=self.n_items)

    def interaction_matrix(self, *, real_only: bool = False) -> Any:
        """Binary user x item ``scipy.sparse.csr_matrix`` over the indexes (duplicates once)."""
        import scipy.sparse as sp

        source = self.real() if real_only else self
        users, items = source.codes()
        matrix = sp.csr_matrix(
            (np.ones(len(users), dtype=np.float32), (users, items)),
            shape=(self.n_users, self.n_items),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix

    def sequences(self) -> tuple[np.ndarray, np.ndarray]:
        """Each user's items in time order (ties: file order) as CSR ``(indptr, items)``.

        ``items[indptr[u]:indptr[u + 1]]`` is user ``u``'s history; rows without a timestamp
        keep their file order.
        """
        users, items = self.codes()
        time = self.interactions.column("timestamp")
        stamps = np.asarray(pc.fill_null(time, 0).to_numpy(), dtype=np.int64)
        order = np.lexsort((np.arange(len(users)), stamps, users))
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=self.n_users), out=indptr[1:])
        return indptr, items[order]

    def item_texts(
        self, columns: Sequence[str] | None = None, *, separator: str = " | "
    ) -> list[str]:
        """One string per item of ``item_index``: the chosen text columns joined (default: all
        text columns); an item without text is represented by its id."""
        ids = self.item_index.ids
        if self.items is None:
            return ids.to_pylist()
        columns = list(columns) if columns is not None else self.text_columns()
        missing = [c for c in columns if c not in self.items.column_names]
        if missing:
            raise DataError(
                f"items table has no column '{missing[0]}' "
                f"(text columns present: {', '.join(self.text_columns()) or 'none'})"
            )
        row_of = IdIndex(self.items.column("item_id")).lookup(ids)
        parts = [self.items.column(c).cast(pa.string()).to_pylist() for c in columns]
        texts = []
        for position, item_id in enumerate(ids.to_pylist()):
            row = row_of[position]
            values = [p[row] for p in parts if row >= 0 and p[row]] if row >= 0 else []
            texts.append(separator.join(values) if values else item_id)
        return texts

    def text_columns(self) -> list[str]:
        """String columns of the items table that describe items (title, genres, ...)."""
        if self.items is None:
            return []
        return [
            f.name
            for f in self.items.schema
            if f.name != "item_id"
            and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        ]


# -- validation ------------------------------------------------------------------------------


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
    for name in REQUIRED_COLUMNS:
        _check_ids(columns[name], name, file, line_of)
    _check_ids(columns["origin"], "origin", file, line_of, blank=False)  # a name, not an id
    _check_finite(columns["rating"], "rating", file, line_of)
    _check_finite(columns["score"], "score", file, line_of)
    _check_times(columns["timestamp"], file, line_of)
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


def _check_times(column: pa.ChunkedArray, file: str | None, line_of: LineOf | None) -> None:
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
            else _time_out_of_range(value)
        )
        raise DataError(message, column="timestamp", **_row_where(file, line_of, row))


def _time_out_of_range(value: float) -> str:
    """Why a time is refused, with the unit it would fit in if there is one."""
    if value != value or value < 0:
        return f"timestamp {shown(value)} is not seconds since 1970"
    if value <= MAX_TIMESTAMP:
        return f"timestamp {shown(value)} is not a whole number of seconds since 1970"
    message = f"timestamp {shown(value)} is not seconds since 1970 (it falls after the year 9999)"
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


# -- building synthetic rows -----------------------------------------------------------------


def synthetic_table(
    user_id: Iterable[str] | pa.Array,
    item_id: Iterable[str] | pa.Array,
    origin: str,
    *,
    parent_user: Iterable[str | None] | pa.Array | None = None,
    score: Iterable[float] | np.ndarray | pa.Array | None = None,
    rating: Iterable[float] | np.ndarray | pa.Array | None = None,
    timestamp: Iterable[int] | np.ndarray | pa.Array | None = None,
) -> pa.Table:
    """Synthetic interactions with the standard schema and ``origin`` set to the strategy name."""
    users = _as_array(user_id, pa.string())
    n = len(users)

    def column(values: Any, type_: pa.DataType) -> pa.Array:
        return pa.nulls(n, type_) if values is None else _as_array(values, type_)

    arrays = [
        users,
        column(item_id, pa.string()),
        column(rating, pa.float32()),
        column(timestamp, pa.int64()),
        constant_strings(origin, n),
        column(parent_user, pa.string()),
        column(score, pa.float32()),
    ]
    if any(len(a) != n for a in arrays):
        raise ValueError("synthetic_table: columns have different lengths")
    return pa.Table.from_arrays(arrays, schema=INTERACTION_SCHEMA)


def constant_strings(value: str, n: int) -> pa.Array:
    """``n`` copies of ``value`` as a string array, built from buffers: no Python object per
    row (tens of millions of rows take a fraction of a second)."""
    encoded = value.encode("utf-8")
    small = len(encoded) * n < 2**31  # int32 offsets, as pa.string() has
    offsets = np.arange(n + 1, dtype=np.int32 if small else np.int64) * len(encoded)
    kind = pa.string() if small else pa.large_string()
    array = pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(encoded * n)])
    return array if small else array.cast(pa.string())


def _as_array(values: Any, type_: pa.DataType) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == type_ else values.cast(type_)
    if isinstance(values, np.ndarray) and values.dtype != object:
        return pa.array(values).cast(type_)
    return pa.array(list(values), type_)


def empty_interactions() -> pa.Table:
    return INTERACTION_SCHEMA.empty_table()


def concat_interactions(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenate interaction tables, keeping extra columns (null where a table lacks one)."""
    if not tables:
        return empty_interactions()
    return pa.concat_tables([normalize_interactions(t) for t in tables], promote_options="default")


# -- generated attribute text ---------------------------------------------------------------

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


def text_table(
    entity: str, ids: Iterable[str], column: str, texts: Iterable[str], origin: str
) -> pa.Table:
    """Generated text for ``entity`` ("item"/"user") rows, to go into a new ``column``."""
    id_array = _as_array(ids, pa.string())
    n = len(id_array)
    return pa.Table.from_arrays(
        [
            pa.array([entity] * n, pa.string()),
            id_array,
            pa.array([column] * n, pa.string()),
            _as_array(texts, pa.string()),
            pa.array([origin] * n, pa.string()),
        ],
        schema=TEXT_SCHEMA,
    )


def attach_text(table: pa.Table, key: str, text: pa.Table) -> pa.Table:
    """Add each generated ``column`` of ``text`` to ``table`` (matched on ``key``), marked
    in the field metadata with the strategy that wrote it."""
    if text.num_rows == 0:
        return table
    index = IdIndex(table.column(key))
    for column in pc.unique(text.column("column")).to_pylist():
        rows = text.filter(pc.equal(text.column("column"), column))
        positions = index.lookup(rows.column("id"))
        known = positions >= 0
        values = np.full(table.num_rows, None, dtype=object)
        values[positions[known]] = np.asarray(rows.column("text").to_pylist(), dtype=object)[known]
        origin = rows.column("origin")[0].as_py()
        field_ = pa.field(column, pa.string(), metadata={GENERATED_MARK: origin.encode()})
        if column in table.column_names:
            table = table.drop_columns([column])
        table = table.append_column(field_, pa.array(values, pa.string()))
    return table
