"""Who augmentation is for, and the user groups that evaluation reports.

Users are grouped by the length of their REAL training history into thirds: ``sparse`` (the
shortest third), ``medium`` and ``dense`` (the longest third). Users of equal length are
ordered by a hash of their id, so each group holds a third of the users even when many share
the length at a boundary, and a user is in the same group whichever seed split the data (the
hash does not depend on the seed). The same grouping drives ``--target sparse`` and the
per-group metrics, so "helps sparse users" means the same users in augmentation and in
evaluation.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from recaug_core.data import Dataset, IdIndex

GROUPS = ("sparse", "medium", "dense")
HEAD_SHARE = 0.2  # the most popular 20% of items are the head; the rest is the long tail
_TIE_SALT = b"recaug-user-groups\x1f"


@dataclass(frozen=True)
class UserGroups:
    """Group code per user (0 sparse, 1 medium, 2 dense; -1 without real history), and each
    group's size and history-length range."""

    codes: np.ndarray
    sizes: tuple[int, int, int]
    min_lengths: tuple[int, int, int]
    max_lengths: tuple[int, int, int]

    def thresholds(self) -> dict[str, float]:
        """The lengths at the group boundaries (a boundary length may be shared by two groups
        when users of that length were split by the tie-break)."""
        return {
            "sparse_max_length": float(self.max_lengths[0]),
            "dense_min_length": float(self.min_lengths[2]),
        }


def tie_break_keys(index: IdIndex) -> np.ndarray:
    """A fixed pseudo-random number per user id (CRC-32 of the id): the order of users whose
    histories are equally long. The same in every process, seed and split."""
    return np.fromiter(
        (zlib.crc32(_TIE_SALT + user.encode()) for user in index.ids.to_pylist()),
        dtype=np.uint32,
        count=len(index),
    )


def user_groups(lengths: np.ndarray, tie_break: np.ndarray | None = None) -> UserGroups:
    """Thirds of the users with at least one interaction, by ``lengths`` (ties broken by
    ``tie_break``, then by position); the first ``n % 3`` extra users go to the shorter groups."""
    lengths = np.asarray(lengths)
    codes = np.full(len(lengths), -1, dtype=np.int8)
    active = np.flatnonzero(lengths > 0)
    if len(active) == 0:
        return UserGroups(codes, (0, 0, 0), (0, 0, 0), (0, 0, 0))
    keys = np.zeros(len(lengths), np.uint32) if tie_break is None else tie_break
    order = active[np.lexsort((active, keys[active], lengths[active]))]
    base, extra = divmod(len(order), 3)
    sizes = tuple(base + (1 if g < extra else 0) for g in range(3))
    bounds = np.cumsum((0, *sizes))
    minima, maxima = [], []
    for g in range(3):
        members = order[bounds[g] : bounds[g + 1]]
        codes[members] = g
        minima.append(int(lengths[members[0]]) if len(members) else 0)
        maxima.append(int(lengths[members[-1]]) if len(members) else 0)
    return UserGroups(codes, sizes, tuple(minima), tuple(maxima))  # type: ignore[arg-type]


def real_lengths(train: Dataset) -> np.ndarray:
    return train.real().user_lengths()


def training_groups(train: Dataset) -> UserGroups:
    """The user groups of a training set (by real history length, ties by user id)."""
    return user_groups(real_lengths(train), tie_break_keys(train.user_index))


def target_users(train: Dataset, target: str) -> np.ndarray:
    """Indices (in ``train.user_index``) of the users a strategy should augment.

    ``sparse``: the sparse group; ``all``: every user with training data; ``long-tail`` and
    ``new`` also start from every user (the strategy decides which items or new users).
    """
    if target == "sparse":
        return np.flatnonzero(training_groups(train).codes == 0)
    return np.flatnonzero(real_lengths(train) > 0)


def tail_items(train: Dataset) -> np.ndarray:
    """Boolean mask over ``train.item_index``: True for long-tail (non-head) items."""
    popularity = train.real().item_popularity()
    n_head = int(np.ceil(HEAD_SHARE * np.count_nonzero(popularity)))
    order = np.argsort(-popularity, kind="stable")
    tail = np.ones(len(popularity), dtype=bool)
    tail[order[:n_head]] = False
    return tail
