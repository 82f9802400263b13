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
    model_config = ConfigDict(extra="forbid", frozen=True)

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
    unique = pc.unique(column)
    codes = pc.index_in(column, value_set=unique)
    return np.asarray(codes.to_numpy(), dtype=np.int64), len(unique)


def _drop_repeats(table: pa.Table, *, keep_all: bool) -> pa.Table:
    """Drop duplicate rows (same user, item, rating and time); unless ``keep_all``, keep
    only the latest row of each (user, item) pair."""
    if table.num_rows == 0:
        return table
    users, _ = _codes(table.column("user_id"))
    items, n_items = _codes(table.column("item_id"))
    pair = users * n_items + items
    time = np.asarray(pc.fill_null(table.column("timestamp"), -1).to_numpy(), dtype=np.int64)
    row = np.arange(table.num_rows)
    if keep_all:
        rating = pc.fill_null(table.column("rating").cast(pa.float64()), np.nan)
        bits = np.asarray(rating.to_numpy(), dtype=np.float64).view(np.int64)
        order = np.lexsort((row, bits, time, pair))
        same = pair[order][1:] == pair[order][:-1]
        same &= time[order][1:] == time[order][:-1]
        same &= bits[order][1:] == bits[order][:-1]
        keep_sorted = np.r_[True, ~same]
    else:
        order = np.lexsort((row, time, pair))  # ties in time go to the later row of the file
        keep_sorted = np.r_[pair[order][1:] != pair[order][:-1], True]
    keep = np.sort(order[keep_sorted])
    if len(keep) == table.num_rows:
        return table
    return table.take(pa.array(keep))


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
