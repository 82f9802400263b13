"""Vectorised MinHash signatures and LSH banding over a binary CSR user x item matrix.

Signature ``k`` of a row is the smallest ``h_k(item) = (a_k * item + b_k) mod p`` over the
row's items (p = 2^31 - 1), so two rows agree on it with probability equal to their Jaccard
similarity. Banding cuts the signature into ``bands`` groups of ``rows`` values; two rows
that agree on a whole band become a candidate pair, to be checked exactly.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

PRIME = (1 << 31) - 1
# Rows x hashes per block of the signature computation (uint32: 4 bytes each).
BLOCK = 1 << 23
# Rows compared with their neighbours in one band bucket; bigger buckets are compared only
# with their next WINDOW members (sorted-neighbourhood), so a degenerate bucket cannot make
# the candidate set quadratic.
WINDOW = 64


def signatures(matrix: sp.csr_matrix, num_perm: int, seed: int = 0) -> np.ndarray:
    """``[n_rows, num_perm]`` uint32 MinHash signatures; every row must have an item."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, PRIME, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, PRIME, size=num_perm, dtype=np.uint64)
    items = np.arange(matrix.shape[1], dtype=np.uint64)
    # One hash table per permutation over the catalog: [num_perm, n_items]; a * item < 2^62.
    table = ((a[:, None] * items[None, :] + b[:, None]) % PRIME).astype(np.uint32)
    out = np.empty((matrix.shape[0], num_perm), dtype=np.uint32)
    indptr, indices = matrix.indptr, matrix.indices
    per_block = max(1, BLOCK // num_perm)
    row = 0
    while row < matrix.shape[0]:
        # Grow the block until it holds about `per_block` items (at least one row).
        end = int(np.searchsorted(indptr, indptr[row] + per_block, side="right")) - 1
        end = min(max(end, row + 1), matrix.shape[0])
        hashed = table[:, indices[indptr[row] : indptr[end]]]
        starts = indptr[row:end] - indptr[row]
        out[row:end] = np.minimum.reduceat(hashed, starts, axis=1).T
        row = end
    return out


def band_layout(num_perm: int, threshold: float, recall: float = 0.99) -> tuple[int, int]:
    """(bands, rows per band) dividing ``num_perm``: the most rows per band (fewest false
    candidates) that still find a pair at Jaccard ``threshold`` with probability ``recall``."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        if num_perm % rows:
            continue
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= recall:
            best = (bands, rows)
    return best


def candidate_pairs(signature: np.ndarray, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs ``(a, b)``, ``a < b``, of rows that share a band bucket."""
    n, num_perm = signature.shape
    rows = num_perm // bands
    mix = np.random.default_rng(1).integers(1, 1 << 63, size=rows, dtype=np.uint64) | np.uint64(1)
    keys: list[np.ndarray] = []
    for band in range(bands):
        part = signature[:, band * rows : (band + 1) * rows].astype(np.uint64)
        # uint64 arithmetic wraps: a cheap hash of the band's values.
        bucket = (part * mix[None, :]).sum(axis=1)
        order = np.argsort(bucket, kind="stable")
        sorted_bucket = bucket[order]
        new_run = np.r_[True, sorted_bucket[1:] != sorted_bucket[:-1]]
        run_lengths = np.diff(np.r_[np.flatnonzero(new_run), n])
        reach = min(int(run_lengths.max(initial=1)) - 1, WINDOW)
        for step in range(1, reach + 1):
            same = sorted_bucket[step:] == sorted_bucket[:-step]
            first, second = order[:-step][same], order[step:][same]
            low, high = np.minimum(first, second), np.maximum(first, second)
            keys.append(low.astype(np.int64) * n + high)
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    unique = np.unique(np.concatenate(keys))
    return unique // n, unique % n
