"""The data model: interactions, items and users as Arrow tables, validated on the way in
(``recaug_core.schema``), and the helpers that build synthetic rows and generated text.

Models never invent id schemes: they map ids through an ``IdIndex``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recaug_core.errors import DataError
from recaug_core.schema import (
    GENERATED_MARK,
    INTERACTION_SCHEMA,
    REAL,
    TEXT_SCHEMA,
    constant_strings,
    normalize_entity_table,
    normalize_interactions,
)

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
        indptr, order = self.sequence_order()
        return indptr, self.codes()[1][order]

    def sequence_order(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indptr, rows)``: the row numbers of ``sequences()``'s items, for per-row values
        (a merge policy's weights) in the same order."""
        users, _ = self.codes()
        time = self.interactions.column("timestamp")
        stamps = np.asarray(pc.fill_null(time, 0).to_numpy(), dtype=np.int64)
        order = np.lexsort((np.arange(len(users)), stamps, users))
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=self.n_users), out=indptr[1:])
        return indptr, order

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
