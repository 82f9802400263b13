"""How closely an arm's kept synthetic rows resemble the real training data, and how close
they come to copying it.

- ``popularity_js``: Jensen-Shannon divergence of item popularity, synthetic vs real (0 same).
- ``length_ks``: Kolmogorov-Smirnov statistic of history lengths, new synthetic vs real users
  (None when the arm only extends real users: the rows added to a user are no history).
- ``extension_rows``: kept rows added to real users; the rest belong to new synthetic users.
- ``exact_copy_rate``: share of synthetic users whose item set equals a real user's.
- ``dcr_mean`` / ``dcr_p05``: distance to the closest real record (1 - best Jaccard), mean
  and 5th percentile (low = near-copies).

The privacy figures compare at most ``PRIVACY_SAMPLE`` synthetic users (a seeded sample) with
every real user, so they stay affordable on large data.

For the privacy figures a synthetic user is one ``user_id`` among the kept synthetic rows: a
new pseudo-user, or the rows a strategy added to a real user (then compared with every real
user, itself included).

``validation_hits`` counts kept rows that are among their user's validation items: how often a
generator proposes what the user really went on to interact with, measured without the test
split.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from recaug_core import arrays, metrics
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
    extends = _extends_real_user(train, kept)
    new_users = np.unique(user_codes[~extends])
    summary: dict[str, Any] = {
        "synthetic_rows": kept.num_rows,
        "synthetic_users": len(users),
        "extension_rows": int(extends.sum()),
        "new_items": int((~known).sum()),
        "popularity_js": metrics.js_divergence(real_pop, syn_pop),
        "length_ks": (
            metrics.ks_statistic(real_lengths, syn_lengths[new_users]) if len(new_users) else None
        ),
    }
    summary.update(_privacy(real, user_codes[known], items[known], len(users)))
    return summary


def _extends_real_user(train: Dataset, kept: pa.Table) -> np.ndarray:
    """Per kept row: whether its user is a real user with training history."""
    at = train.user_index.lookup(kept.column("user_id"))
    lengths = train.real().user_lengths()
    return (at >= 0) & (lengths[np.maximum(at, 0)] > 0)


def validation_hits(train: Dataset, valid: Dataset, kept: pa.Table) -> tuple[int, int, float]:
    """(rows, hits, by_chance): kept rows of users that have validation items, how many of
    them are one of that user's validation items, and how many a random item the user has not
    trained on would hit (the expected count). ``valid`` shares ``train``'s indexes."""
    users = valid.user_index.lookup(kept.column("user_id"))
    items = valid.item_index.lookup(kept.column("item_id"))
    v_users, v_items = valid.real().codes()
    n_valid = np.bincount(v_users, minlength=len(valid.user_index))
    counted = (users >= 0) & (n_valid[np.maximum(users, 0)] > 0)
    n_items = max(len(valid.item_index), 1)
    truth = arrays.unique(v_users * n_items + v_items)
    known = counted & (items >= 0)  # an invented item is never a validation item
    hits = arrays.isin(users[known] * n_items + items[known], truth)
    trained = train.real().user_lengths()
    trained = np.pad(trained, (0, max(0, len(n_valid) - len(trained))))
    at = users[counted]
    chance = n_valid[at] / np.maximum(n_items - trained[at], 1)
    return int(counted.sum()), int(hits.sum()), float(chance.sum())


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
    """What the report plots: the long-tail curve and the history-length histograms.

    ``cumulative_popularity``: the share of all interactions held by the most popular items,
    at ``CURVE_POINTS`` item percentiles (Lorenz-style, ending at 1); ``lengths``: {history
    length: users} of the real users (baseline) or of an arm's new synthetic users;
    ``lengths_after``: {length: users} of the real users' histories after an arm extended
    them (only for arms that add rows to real users).
    """
    real = train.real()
    real_lengths = real.user_lengths()
    if kept is None:
        return {
            "cumulative_popularity": cumulative_curve(real.item_popularity()),
            "lengths": _value_counts(real_lengths[real_lengths > 0]),
        }
    items = train.item_index.lookup(kept.column("item_id"))
    counts = np.bincount(items[items >= 0], minlength=train.n_items)
    out: dict[str, Any] = {"cumulative_popularity": cumulative_curve(counts)}
    extends = _extends_real_user(train, kept)
    new = kept.filter(pa.array(~extends))
    if new.num_rows:
        users = IdIndex.from_columns(new.column("user_id"))
        out["lengths"] = _value_counts(np.bincount(users.indices(new.column("user_id"))))
    if extends.any():
        added = train.user_index.lookup(kept.column("user_id"))[extends]
        after = real_lengths + np.bincount(added, minlength=len(real_lengths))
        out["lengths_after"] = _value_counts(after[real_lengths > 0])
    return out


def cumulative_curve(counts: np.ndarray) -> list[float]:
    """Share of all counts held by the top 0, 1, ... 100 % of items (most popular first)."""
    shares = np.sort(np.asarray(counts, dtype=np.float64))[::-1]
    total = shares.sum()
    if total == 0 or len(shares) == 0:
        return []
    cumulative = np.concatenate([[0.0], np.cumsum(shares) / total])
    at = np.linspace(0, len(shares), CURVE_POINTS + 1).round().astype(int)
    return [round(float(v), 6) for v in cumulative[at]]


def _value_counts(values: np.ndarray) -> dict[str, int]:
    found, counts = np.unique(values, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(found, counts)}
