"""Correlated items for `substitute` and `insert`: the top-k neighbours of every item.

Two sources: co-occurrence within a few steps of each other in the training histories
(cosine-normalised, so the most popular items do not neighbour everything), or cosine
similarity of item-text sentence embeddings. Both are vectorised: no loop over items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

TEXT_CHUNK = 2048  # rows of the item-item similarity computed at once


@dataclass(frozen=True)
class Neighbours:
    """``table[i, :count[i]]``: item ``i``'s neighbours, best first; ``weight`` their similarity."""

    table: np.ndarray  # int64 [n_items, k], -1 past count
    weight: np.ndarray  # float32 [n_items, k]
    count: np.ndarray  # int64 [n_items]

    def sample(self, items: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One neighbour of each of ``items``, uniformly among its top k (-1 if it has none),
        and its similarity."""
        count = self.count[items]
        pick = np.minimum(
            (rng.random(len(items)) * count).astype(np.int64), self.table.shape[1] - 1
        )
        found = count > 0
        chosen = np.where(found, self.table[items, pick], -1)
        weight = np.where(found, self.weight[items, pick], np.nan).astype(np.float32)
        return chosen, weight


def from_cooccurrence(
    indptr: np.ndarray,
    items: np.ndarray,
    n_items: int,
    k: int,
    window: int,
    allowed: np.ndarray | None = None,
) -> Neighbours:
    """Neighbours by how often two items occur within ``window`` steps in one history.

    ``indptr``/``items`` are time-ordered CSR histories; ``allowed`` (a mask over items)
    restricts which items may be neighbours.
    """
    user = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    heads, tails = [], []
    for step in range(1, window + 1):  # a loop over offsets, not over items or users
        same_user = user[step:] == user[:-step]
        heads.append(items[:-step][same_user])
        tails.append(items[step:][same_user])
    a = np.concatenate(heads) if heads else np.zeros(0, np.int64)
    b = np.concatenate(tails) if tails else np.zeros(0, np.int64)
    distinct = a != b
    a, b = a[distinct], b[distinct]
    counts = sp.coo_matrix(
        (np.ones(2 * len(a), dtype=np.float64), (np.concatenate([a, b]), np.concatenate([b, a]))),
        shape=(n_items, n_items),
    ).tocsr()
    counts.sum_duplicates()
    frequency = np.bincount(items, minlength=n_items).astype(np.float64)
    rows = np.repeat(np.arange(n_items), np.diff(counts.indptr))
    score = counts.data / np.sqrt(frequency[rows] * frequency[counts.indices])
    if allowed is not None:
        score = np.where(allowed[counts.indices], score, 0.0)
    return _top_k_sparse(rows, counts.indices, score, n_items, k)


def from_embeddings(vectors: np.ndarray, k: int, allowed: np.ndarray | None = None) -> Neighbours:
    """Neighbours by cosine similarity of unit-normalised ``vectors`` (one row per item)."""
    n_items = len(vectors)
    k = min(k, max(n_items - 1, 0))
    table = np.full((n_items, max(k, 1)), -1, dtype=np.int64)
    weight = np.zeros((n_items, max(k, 1)), dtype=np.float32)
    if k == 0:
        return Neighbours(table, weight, np.zeros(n_items, dtype=np.int64))
    for begin in range(0, n_items, TEXT_CHUNK):  # chunks bound memory; each is one matmul
        rows = np.arange(begin, min(begin + TEXT_CHUNK, n_items))
        similarity = vectors[rows] @ vectors.T
        similarity[np.arange(len(rows)), rows] = -np.inf
        if allowed is not None:
            similarity[:, ~allowed] = -np.inf
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(similarity, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        table[rows] = top
        weight[rows] = np.take_along_axis(similarity, top, axis=1)
    usable = np.isfinite(weight)
    table[~usable] = -1
    weight[~usable] = 0.0
    # Neighbours are sorted best first, so the usable ones form a prefix of each row.
    return Neighbours(table, weight, usable.sum(axis=1).astype(np.int64))


def _top_k_sparse(
    rows: np.ndarray, cols: np.ndarray, score: np.ndarray, n_items: int, k: int
) -> Neighbours:
    positive = score > 0
    rows, cols, score = rows[positive], cols[positive], score[positive]
    order = np.lexsort((cols, -score, rows))  # best first; ties by item index, for determinism
    rows, cols, score = rows[order], cols[order], score[order]
    per_row = np.bincount(rows, minlength=n_items)
    rank = np.arange(len(rows)) - (np.cumsum(per_row) - per_row)[rows]
    keep = rank < k
    table = np.full((n_items, max(k, 1)), -1, dtype=np.int64)
    weight = np.zeros((n_items, max(k, 1)), dtype=np.float32)
    table[rows[keep], rank[keep]] = cols[keep]
    weight[rows[keep], rank[keep]] = score[keep]
    return Neighbours(table, weight, np.minimum(per_row, k).astype(np.int64))
