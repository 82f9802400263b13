"""How closely an arm's kept synthetic rows resemble the real training data, and how close
they come to copying it.

- ``popularity_js``: Jensen-Shannon divergence of item popularity, synthetic vs real (0 same).
- ``length_ks``: Kolmogorov-Smirnov statistic of history lengths, synthetic vs real users.
- ``exact_copy_rate``: share of synthetic users whose item set equals a real user's.
- ``dcr_mean`` / ``dcr_p05``: distance to the closest real record (1 - best Jaccard), mean
  and 5th percentile (low = near-copies).

The privacy figures compare at most ``PRIVACY_SAMPLE`` synthetic users (a seeded sample) with
every real user, so they stay affordable on large data.

A synthetic user is one ``user_id`` among the kept synthetic rows: a pseudo-user, or the
rows a strategy added to a real user (then compared with every real user, itself included).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from recaug_core import metrics
from recaug_core.data import Dataset, IdIndex

CURVE_POINTS = 100  # long-tail curves are stored downsampled to this many points
PRIVACY_SAMPLE = 5_000  # synthetic users compared with every real user (seeded sample)
BLOCK = 1 << 22  # synthetic x real similarities held at once


def fidelity_summary(train: Dataset, kept: pa.Table) -> dict[str, Any]:
    """Fidelity and privacy figures of ``kept`` against ``train``'s real rows."""
    real = train.real()
    real_pop = real.item_popularity()
    real_lengths = real.user_lengths()
    real_lengths = real_lengths[real_lengths > 0]
    if kept.num_rows == 0:
        return {"synthetic_rows": 0, "synthetic_users": 0}
    items = train.item_index.lookup(kept.column("item_id"))
    known = items >= 0  # a strategy may invent items: they have no real popularity to match
    syn_pop = np.bincount(items[known], minlength=len(real_pop))
    users = IdIndex.from_columns(kept.column("user_id"))
    user_codes = users.indices(kept.column("user_id"))
    syn_lengths = np.bincount(user_codes, minlength=len(users))
    summary: dict[str, Any] = {
        "synthetic_rows": kept.num_rows,
        "synthetic_users": len(users),
        "new_items": int((~known).sum()),
        "popularity_js": metrics.js_divergence(real_pop, syn_pop),
        "length_ks": metrics.ks_statistic(real_lengths, syn_lengths),
    }
    summary.update(_privacy(real, user_codes[known], items[known], len(users)))
    return summary


def _privacy(real: Dataset, users: np.ndarray, items: np.ndarray, n_users: int) -> dict[str, Any]:
    import scipy.sparse as sp

    real_matrix = real.interaction_matrix(real_only=True)
    real_matrix = real_matrix[np.asarray(real_matrix.sum(axis=1)).ravel() > 0]
    ones = np.ones(len(users), dtype=np.float32)
    synthetic = sp.csr_matrix((ones, (users, items)), shape=(n_users, real_matrix.shape[1]))
    synthetic.data[:] = 1.0  # repeated pairs count once
    active = np.flatnonzero(np.asarray(synthetic.sum(axis=1)).ravel() > 0)
    if len(active) == 0 or real_matrix.shape[0] == 0:
        return {}
    if len(active) > PRIVACY_SAMPLE:  # the comparison costs synthetic x real users
        active = np.sort(np.random.default_rng(0).choice(active, PRIVACY_SAMPLE, replace=False))
    batch = max(1, BLOCK // real_matrix.shape[0])
    similarity, _ = metrics.nearest_jaccard(synthetic[active], real_matrix, batch=batch)
    dcr = 1.0 - similarity
    return {
        "exact_copy_rate": float((similarity >= 1.0 - 1e-9).mean()),
        "dcr_mean": float(dcr.mean()),
        "dcr_p05": float(np.quantile(dcr, 0.05)),
    }


def distributions(train: Dataset, kept: pa.Table | None) -> dict[str, Any]:
    """What the report plots: the long-tail curve and the history-length histogram.

    ``popularity``: item shares sorted from the most popular, downsampled; ``lengths``:
    {history length: number of users}.
    """
    if kept is None:
        real = train.real()
        counts = real.item_popularity()
        lengths = real.user_lengths()
        lengths = lengths[lengths > 0]
    else:
        items = train.item_index.lookup(kept.column("item_id"))
        counts = np.bincount(items[items >= 0], minlength=train.n_items)
        users = IdIndex.from_columns(kept.column("user_id"))
        lengths = np.bincount(users.indices(kept.column("user_id")), minlength=len(users))
    return {"popularity": popularity_curve(counts), "lengths": _value_counts(lengths)}


def popularity_curve(counts: np.ndarray) -> list[float]:
    shares = np.sort(np.asarray(counts, dtype=np.float64))[::-1]
    total = shares.sum()
    if total == 0 or len(shares) == 0:
        return []
    shares /= total
    at = np.unique(np.linspace(0, len(shares) - 1, min(CURVE_POINTS, len(shares))).astype(int))
    return [round(float(v), 6) for v in shares[at]]


def _value_counts(values: np.ndarray) -> dict[str, int]:
    found, counts = np.unique(values, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(found, counts)}
