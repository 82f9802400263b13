"""Helpers the bundled filters share: splitting a table by a mask, and user x item sets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from recaug_core import Dataset, FilterResult, IdIndex, arrays


def split_rows(
    table: pa.Table,
    drop: np.ndarray,
    reasons: str | Sequence[str],
    which: np.ndarray | None = None,
    stats: dict[str, Any] | None = None,
) -> FilterResult:
    """Kept rows (``~drop``) and rejected rows (``drop``) with their ``reason``; every other
    column of both is kept as it was.

    ``reasons`` is one reason for every rejected row, or a list of reasons with ``which``
    giving each row's position in it: small integer codes, because a reason string per row
    would cost a hundred bytes or more per row on large tables.
    """
    drop = np.asarray(drop, dtype=bool)
    if isinstance(reasons, str):
        reason_values = pa.array(np.full(int(drop.sum()), reasons, dtype=object), pa.string())
    else:
        assert which is not None, "a list of reasons needs `which`"
        labels = np.asarray(reasons, dtype=object)
        reason_values = pa.array(labels[np.asarray(which)[drop]], pa.string())
    rejected = table.filter(pa.array(drop)).append_column("reason", reason_values)
    return FilterResult(kept=table.filter(pa.array(~drop)), rejected=rejected, stats=stats or {})


def real_user_mask(train: Dataset, user_ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Whether each id is a real user of the dataset (any split or the users table)."""
    return train.user_index.lookup(user_ids) >= 0


@dataclass
class UserSets:
    """The item sets of a group of users as a binary CSR matrix.

    ``users`` maps row ``r`` of ``matrix`` to a user id (first appearance order); ``row_of``
    gives each input row its matrix row. Columns follow ``items``: the training item index,
    extended by any item the rows name that the index lacks.
    """

    users: IdIndex
    items: IdIndex
    row_of: np.ndarray
    matrix: sp.csr_matrix

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.matrix.indptr)


def user_sets(train: Dataset, table: pa.Table) -> UserSets:
    users = IdIndex.from_columns(table.column("user_id"))
    items = train.item_index.extend(table.column("item_id"))
    rows = users.indices(table.column("user_id"))
    cols = items.indices(table.column("item_id"))
    return UserSets(users, items, rows, binary_matrix(rows, cols, (len(users), len(items))))


def real_sets(train: Dataset, items: IdIndex) -> sp.csr_matrix:
    """Real training users' item sets (users with at least one item), columns over ``items``."""
    real = train.real()
    users = real.user_index.indices(real.interactions.column("user_id"))
    cols = items.indices(real.interactions.column("item_id"))
    active, rows = arrays.unique_inverse(users)
    return binary_matrix(rows, cols, (len(active), len(items)))


def binary_matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def is_null(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.is_null(values).to_numpy(zero_copy_only=False), dtype=bool)
