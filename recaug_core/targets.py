"""Who augmentation is for, and the user groups that evaluation reports.

Users are grouped by the length of their REAL training history: ``sparse`` (the shortest
third), ``medium`` and ``dense`` (the longest third). The same thresholds drive
``--target sparse`` and the per-group metrics, so "helps sparse users" means one thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recaug_core.data import Dataset

GROUPS = ("sparse", "medium", "dense")
HEAD_SHARE = 0.2  # the most popular 20% of items are the head; the rest is the long tail


@dataclass(frozen=True)
class UserGroups:
    """Group code per user (0 sparse, 1 medium, 2 dense) and the length thresholds used."""

    codes: np.ndarray
    sparse_max: float  # sparse: length <= sparse_max
    dense_above: float  # dense: length > dense_above

    def thresholds(self) -> dict[str, float]:
        return {"sparse_max_length": self.sparse_max, "dense_above_length": self.dense_above}


def user_groups(lengths: np.ndarray) -> UserGroups:
    """Tercile groups over users that have at least one interaction."""
    active = lengths[lengths > 0]
    if len(active) == 0:
        return UserGroups(np.zeros(len(lengths), dtype=np.int8), 0.0, 0.0)
    low, high = np.quantile(active, [1 / 3, 2 / 3])
    codes = np.where(lengths <= low, 0, np.where(lengths > high, 2, 1)).astype(np.int8)
    return UserGroups(codes, float(low), float(high))


def real_lengths(train: Dataset) -> np.ndarray:
    return train.real().user_lengths()


def target_users(train: Dataset, target: str) -> np.ndarray:
    """Indices (in ``train.user_index``) of the users a strategy should augment.

    ``sparse``: the sparse group; ``all``: every user with training data; ``long-tail`` and
    ``new`` also start from every user (the strategy decides which items or new users).
    """
    lengths = real_lengths(train)
    if target == "sparse":
        groups = user_groups(lengths)
        return np.flatnonzero((groups.codes == 0) & (lengths > 0))
    return np.flatnonzero(lengths > 0)


def tail_items(train: Dataset) -> np.ndarray:
    """Boolean mask over ``train.item_index``: True for long-tail (non-head) items."""
    popularity = train.real().item_popularity()
    n_head = int(np.ceil(HEAD_SHARE * np.count_nonzero(popularity)))
    order = np.argsort(-popularity, kind="stable")
    tail = np.ones(len(popularity), dtype=bool)
    tail[order[:n_head]] = False
    return tail
