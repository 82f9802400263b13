"""Cleaning shared by every data source: duplicates, repeated pairs, positives, k-core.

All steps are vectorised over the Arrow columns, so they scale to tens of millions of rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from recaug_core.data import Dataset


class CleanOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    keep_repeats: bool = Field(
        default=False,
        description="keep every repeated (user, item) pair; by default only the latest is kept",
    )
    min_rating: float | None = Field(
        default=None,
        description="drop rated rows below this rating (rows without a rating count as positive)",
    )
    kcore: int = Field(default=0, ge=0, description="keep users and items with >= k interactions")


def clean(data: Dataset, options: CleanOptions | None = None) -> tuple[Dataset, dict[str, Any]]:
    """Return the cleaned dataset and how many rows each step removed."""
    options = options or CleanOptions()
    table = data.interactions
    report: dict[str, Any] = {"rows_in": table.num_rows}
    table = _drop_repeats(table, keep_all=options.keep_repeats)
    report["repeats_removed"] = report["rows_in"] - table.num_rows
    if options.min_rating is not None:
        before = table.num_rows
        rating = table.column("rating")
        keep = pc.or_kleene(pc.is_null(rating), pc.greater_equal(rating, options.min_rating))
        table = table.filter(pc.fill_null(keep, True))
        report["below_min_rating_removed"] = before - table.num_rows
    if options.kcore > 1:
        before = table.num_rows
        table = _kcore(table, options.kcore)
        report["kcore_removed"] = before - table.num_rows
    report["rows_out"] = table.num_rows
    items, users = data.items, data.users
    if options.kcore > 1:
        # k-core removes users and items themselves, not only their rows
        items = _only(items, "item_id", table.column("item_id"))
        users = _only(users, "user_id", table.column("user_id"))
    return Dataset(table, items=items, users=users, name=data.name), report


def _only(entities: pa.Table | None, key: str, keep: pa.ChunkedArray) -> pa.Table | None:
    if entities is None:
        return None
    return entities.filter(pc.is_in(entities.column(key), value_set=pc.unique(keep)))


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """Integer codes of a column's values (one hashing pass) and how many distinct values."""
    if len(column) == 0:
        return np.zeros(0, dtype=np.int64), 0
    encoded = pc.dictionary_encode(column).unify_dictionaries()
    codes = [np.asarray(chunk.indices.to_numpy(zero_copy_only=False)) for chunk in encoded.chunks]
    return np.concatenate(codes).astype(np.int64, copy=False), len(encoded.chunk(0).dictionary)


def _drop_repeats(table: pa.Table, *, keep_all: bool) -> pa.Table:
    """Drop duplicate rows (same user, item, rating and time); unless ``keep_all``, keep
    only the latest row of each (user, item) pair.

    Only the rows of pairs that occur more than once are sorted, so data without repeats
    (most public datasets) costs one integer sort.
    """
    if table.num_rows == 0:
        return table
    users, _ = _codes(table.column("user_id"))
    items, n_items = _codes(table.column("item_id"))
    rows = _rows_of_repeated_pairs(users * n_items + items)
    if len(rows) == 0:
        return table
    pair = users[rows] * n_items + items[rows]
    subset = pa.array(rows)
    time = np.asarray(
        pc.fill_null(table.column("timestamp").take(subset), -1).to_numpy(), dtype=np.int64
    )
    if keep_all:
        rating = pc.fill_null(table.column("rating").take(subset).cast(pa.float64()), np.nan)
        bits = np.asarray(rating.to_numpy(), dtype=np.float64).view(np.int64)
        order = np.lexsort((rows, bits, time, pair))
        same = pair[order][1:] == pair[order][:-1]
        same &= time[order][1:] == time[order][:-1]
        same &= bits[order][1:] == bits[order][:-1]
        keep_sorted = np.r_[True, ~same]
    else:
        order = np.lexsort((rows, time, pair))  # ties in time go to the later row of the file
        keep_sorted = np.r_[pair[order][1:] != pair[order][:-1], True]
    dropped = rows[order[~keep_sorted]]
    if len(dropped) == 0:
        return table
    keep = np.ones(table.num_rows, dtype=bool)
    keep[dropped] = False
    return table.filter(pa.array(keep))


def _rows_of_repeated_pairs(pair: np.ndarray) -> np.ndarray:
    """Rows (ascending) whose pair key occurs more than once."""
    ordered = np.sort(pair)
    twice = ordered[1:] == ordered[:-1]
    if not twice.any():
        return np.zeros(0, dtype=np.int64)
    repeated = ordered[1:][twice]
    repeated = repeated[np.r_[True, repeated[1:] != repeated[:-1]]]  # distinct, still sorted
    at = np.searchsorted(repeated, pair)
    at[at == len(repeated)] = 0
    return np.flatnonzero(repeated[at] == pair)


def _kcore(table: pa.Table, k: int) -> pa.Table:
    users, n_users = _codes(table.column("user_id"))
    items, n_items = _codes(table.column("item_id"))
    alive = np.ones(len(users), dtype=bool)
    while True:
        user_deg = np.bincount(users[alive], minlength=n_users)
        item_deg = np.bincount(items[alive], minlength=n_items)
        still = alive & (user_deg[users] >= k) & (item_deg[items] >= k)
        if still.sum() == alive.sum():
            break
        alive = still
    return table.filter(pa.array(alive))
