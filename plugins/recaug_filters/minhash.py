"""Vectorised MinHash signatures and LSH banding over a binary CSR user x item matrix.

Signature ``k`` of a row is the smallest ``h_k(item) = (a_k * key(item) + b_k) mod p`` over
the row's items (p = 2^31 - 1, ``key`` a random number per item), so two rows agree on it
with probability equal to their Jaccard similarity. Banding cuts the signature into
``bands`` groups of ``rows`` values; two rows that agree on a whole band become a candidate
pair, to be checked exactly.
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
    """``[n_rows, num_perm]`` uint32 MinHash signatures (an empty row gets the maximum)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, PRIME, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, PRIME, size=num_perm, dtype=np.uint64)
    # Random item keys first: a*x+b over consecutive ids is measurably biased as a min-wise
    # hash (neighbouring ids hash in lockstep), random keys are not.
    keys = rng.integers(0, PRIME, size=matrix.shape[1], dtype=np.uint64)
    # Hashes of every catalog item (a * key < 2^62), plus a last row that never wins a min.
    table = np.empty((matrix.shape[1] + 1, num_perm), dtype=np.uint32)
    table[:-1] = (keys[:, None] * a[None, :] + b[None, :]) % PRIME
    table[-1] = np.iinfo(np.uint32).max
    indptr, indices = matrix.indptr, matrix.indices
    sizes = np.diff(indptr)
    out = np.empty((matrix.shape[0], num_perm), dtype=np.uint32)
    # Rows are grouped by size rounded up to a power of two and padded with the last table
    # row, so each group is one dense [rows, width, num_perm] min (np.minimum.reduceat over
    # ragged rows is several times slower).
    widths = 1 << np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.int64)
    for width in np.unique(widths):
        rows = np.flatnonzero(widths == width)
        step = max(1, BLOCK // int(width * num_perm))
        offsets = np.arange(width)
        for begin in range(0, len(rows), step):
            chunk = rows[begin : begin + step]
            position = indptr[chunk][:, None] + offsets[None, :]
            inside = offsets[None, :] < sizes[chunk][:, None]
            items = np.where(inside, indices[np.minimum(position, len(indices) - 1)], -1)
            out[chunk] = table[items].min(axis=1)
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
