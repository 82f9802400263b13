"""`diversity`: drop synthetic users whose item set nearly repeats an earlier synthetic user's.

A generator that collapses onto a few profiles (mode collapse) adds the same users again and
again. Users are taken in order of first appearance; a user is dropped, with all its rows,
when its item set has Jaccard similarity >= ``threshold`` with a user kept before it.
Identical sets are found exactly (a hash of the set); near-duplicates by MinHash/LSH
candidates, each checked with the exact Jaccard similarity, so nothing is dropped on an
estimate. Only users with at least ``min_items`` items are compared.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from recaug_core import Context, Dataset, FilterResult, Options, QualityFilter
from recaug_filters.minhash import band_layout, candidate_pairs, signatures
from recaug_filters.rows import real_user_mask, split_rows, user_sets

IDENTICAL = "diversity: same item set as an earlier synthetic user"
NEAR_DUPLICATE = "diversity: near-duplicate of an earlier synthetic user"
KEPT, DROPPED, UNDECIDED = 0, 1, 2


class DiversityOptions(Options):
    threshold: float = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description="Jaccard similarity of item sets at or above which a user is a near-duplicate",
    )
    scope: Literal["new-users", "all"] = Field(
        default="new-users",
        description="'new-users': compare generated users that are not real users; 'all': also "
        "compare the synthetic rows added to real users",
    )
    min_items: int = Field(
        default=2, ge=1, description="users with fewer synthetic items are never compared"
    )
    num_perm: int = Field(
        default=128, ge=8, le=1024, description="MinHash signature length (hash functions)"
    )
    bands: int | None = Field(
        default=None,
        ge=1,
        description="LSH bands (must divide num_perm); default: chosen for 99% recall at "
        "`threshold`",
    )

    @model_validator(mode="after")
    def _bands_divide(self) -> DiversityOptions:
        if self.bands is not None and self.num_perm % self.bands:
            raise ValueError(f"bands ({self.bands}) must divide num_perm ({self.num_perm})")
        return self


class DiversityFilter(QualityFilter):
    name = "diversity"
    description = "Drops near-duplicate synthetic users (Jaccard of item sets, MinHash/LSH)."
    Options = DiversityOptions
    options: DiversityOptions

    def apply(self, train: Dataset, synthetic: pa.Table, ctx: Context) -> FilterResult:
        opts = self.options
        in_scope = np.ones(synthetic.num_rows, dtype=bool)
        if opts.scope == "new-users":
            in_scope = ~real_user_mask(train, synthetic.column("user_id"))
        scoped = synthetic.filter(pa.array(in_scope))
        sets = user_sets(train, scoped)
        eligible = sets.sizes >= opts.min_items
        identical = _identical_sets(sets.matrix, eligible)
        candidates = np.flatnonzero(eligible & ~identical)
        bands, rows = (
            (opts.bands, opts.num_perm // opts.bands)
            if opts.bands
            else band_layout(opts.num_perm, opts.threshold)
        )
        signature = signatures(sets.matrix[candidates], opts.num_perm, seed=ctx.seed)
        first, second = candidate_pairs(signature, bands)
        similarity = _jaccard(sets.matrix, candidates[first], candidates[second])
        near = similarity >= opts.threshold
        near_dropped = _greedy_drop(
            len(sets.users), candidates[first][near], candidates[second][near]
        )
        user_drop = identical | near_dropped
        drop = np.zeros(synthetic.num_rows, dtype=bool)
        drop[np.flatnonzero(in_scope)] = user_drop[sets.row_of]
        which = np.zeros(synthetic.num_rows, dtype=np.int8)
        which[np.flatnonzero(in_scope)] = identical[sets.row_of]
        stats: dict[str, Any] = {
            "users_compared": int(eligible.sum()),
            "identical_users": int(identical.sum()),
            "near_duplicate_users": int(near_dropped.sum()),
            "candidate_pairs": len(first),
            "near_duplicate_pairs": int(near.sum()),
            "bands": bands,
            "rows_per_band": rows,
        }
        return split_rows(synthetic, drop, [NEAR_DUPLICATE, IDENTICAL], which, stats=stats)


def _identical_sets(matrix: Any, eligible: np.ndarray) -> np.ndarray:
    """Users whose item set equals an earlier eligible user's (64-bit set hash + size)."""
    salt = np.random.default_rng(2).integers(0, 1 << 63, size=matrix.shape[1], dtype=np.uint64)
    sizes = np.diff(matrix.indptr)
    hashed = np.zeros(matrix.shape[0], dtype=np.uint64)
    nonempty = sizes > 0
    # Sum of per-item salts (wrapping): order-free, so it identifies the set, not the order.
    if matrix.nnz:
        hashed[nonempty] = np.add.reduceat(salt[matrix.indices], matrix.indptr[:-1][nonempty])
    key = np.stack([hashed, sizes.astype(np.uint64)], axis=1)[eligible]
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    identical = np.zeros(matrix.shape[0], dtype=bool)
    rows = np.flatnonzero(eligible)
    identical[rows] = first[inverse.ravel()] != np.arange(len(rows))
    return identical


def _jaccard(matrix: Any, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    if len(first) == 0:
        return np.zeros(0)
    inter = np.asarray(matrix[first].multiply(matrix[second]).sum(axis=1)).ravel()
    sizes = np.diff(matrix.indptr)
    return inter / (sizes[first] + sizes[second] - inter)


def _greedy_drop(n_users: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Walk users in order; drop a user that is a near-duplicate of one already kept.

    Resolved in rounds, each vectorised: a user is decided once every earlier neighbour is;
    the earliest undecided user always is, so the loop ends.
    """
    earlier, later = np.minimum(first, second), np.maximum(first, second)
    status = np.full(n_users, KEPT, dtype=np.int8)
    status[later] = UNDECIDED
    while len(later):
        source = status[earlier]
        drops = later[source == KEPT]
        waits = later[source == UNDECIDED]
        undecided = status == UNDECIDED
        dropped = np.zeros(n_users, dtype=bool)
        dropped[drops] = True
        waiting = np.zeros(n_users, dtype=bool)
        waiting[waits] = True
        status[undecided & dropped] = DROPPED
        status[undecided & ~dropped & ~waiting] = KEPT
        open_edges = status[later] == UNDECIDED
        earlier, later = earlier[open_edges], later[open_edges]
    return status == DROPPED
