"""Ranking, beyond-accuracy and fidelity metrics, vectorised over users.

Ranking metrics take each user's top-K list and the set of held-out items:

- ``recall@K`` = hits / |relevant|; ``precision@K`` = hits / K; ``hit@K`` = 1 if any hit;
- ``mrr@K`` = 1 / rank of the first hit (0 if none);
- ``ndcg@K`` = sum over hits of 1/log2(rank+1), divided by the same sum for min(|relevant|, K)
  hits at the top.

Beyond-accuracy metrics look at all users' lists together (popularity = number of real
training interactions of an item, over ``n_users`` training users):

- ``coverage@K``: share of catalog items recommended to anyone;
- ``gini@K``: Gini index of how often items are recommended (0 equal, 1 one item only);
- ``novelty@K``: mean self-information -log2((pop + 1) / (n_users + 1)) of recommended items;
- ``avg_popularity@K``: mean popularity of recommended items;
- ``tail_share@K``: share of recommended items outside the most popular 20% (the head).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recaug_core import arrays

RANKING = ("recall", "ndcg", "hit", "mrr", "precision")
BEYOND = ("coverage", "gini", "novelty", "avg_popularity", "tail_share")


def hit_matrix(
    top: np.ndarray, rows: np.ndarray, relevant_keys: np.ndarray, n_items: int
) -> np.ndarray:
    """``hits[r, j]``: whether ``top[r, j]`` is relevant for row ``rows[r]``.

    ``relevant_keys`` holds ``row * n_items + item`` for every relevant pair; an empty slot
    (item -1, when a user had fewer candidates than K) is never a hit.
    """
    top = top.astype(np.int64)
    keys = rows[:, None].astype(np.int64) * n_items + top
    return arrays.isin(keys, relevant_keys) & (top >= 0)


def ranking_metrics(
    hits: np.ndarray, n_relevant: np.ndarray, ks: Sequence[int]
) -> dict[str, np.ndarray]:
    """Per-user values of every ranking metric at every K (users with n_relevant > 0)."""
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    depth = hits.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, depth + 2))
    ideal = np.cumsum(discounts)
    cumulative = np.cumsum(hits, axis=1)
    first_hit = np.where(hits.any(axis=1), hits.argmax(axis=1), depth)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        kk = min(k, depth)
        found = cumulative[:, kk - 1] if kk else np.zeros(len(hits))
        out[f"recall@{k}"] = found / n_relevant
        out[f"precision@{k}"] = found / k
        out[f"hit@{k}"] = (found > 0).astype(np.float64)
        out[f"mrr@{k}"] = np.where(first_hit < kk, 1.0 / (first_hit + 1.0), 0.0)
        dcg = (hits[:, :kk] * discounts[:kk]).sum(axis=1)
        best = np.minimum(n_relevant, kk).astype(np.int64)
        out[f"ndcg@{k}"] = dcg / ideal[np.maximum(best - 1, 0)]
    return out


def gini(counts: np.ndarray) -> float:
    """Gini index of non-negative counts (0 when all equal, near 1 when one holds all)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(((2 * ranks - n - 1) * x).sum() / (n * total))


def beyond_accuracy(
    top: np.ndarray,
    popularity: np.ndarray,
    n_users: int,
    tail: np.ndarray,
    ks: Sequence[int],
) -> dict[str, float]:
    """Catalog-level metrics of the recommendation lists ``top`` at every K."""
    n_items = len(popularity)
    info = -np.log2((popularity + 1.0) / (n_users + 1.0))
    out: dict[str, float] = {}
    for k in ks:
        lists = top[:, :k]
        if lists.size == 0:
            for name in BEYOND:
                out[f"{name}@{k}"] = 0.0
            continue
        shown = lists[lists >= 0]  # empty slots (-1) recommend nothing
        exposure = np.bincount(shown, minlength=n_items)
        out[f"coverage@{k}"] = float(np.count_nonzero(exposure) / n_items)
        out[f"gini@{k}"] = gini(exposure)
        out[f"novelty@{k}"] = float(info[shown].mean()) if shown.size else 0.0
        out[f"avg_popularity@{k}"] = float(popularity[shown].mean()) if shown.size else 0.0
        out[f"tail_share@{k}"] = float(tail[shown].mean()) if shown.size else 0.0
    return out


# -- fidelity of synthetic data against the real training data --------------------------------


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two count or probability vectors."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return 1.0 if p.sum() != q.sum() else 0.0
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        mask = a > 0
        return float((a[mask] * np.log2(a[mask] / b[mask])).sum())

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (max distance between empirical CDFs)."""
    a = np.sort(np.asarray(a, dtype=np.float64))
    b = np.sort(np.asarray(b, dtype=np.float64))
    if len(a) == 0 or len(b) == 0:
        return 1.0 if len(a) != len(b) else 0.0
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


# -- privacy: how close synthetic users come to real ones -------------------------------------


def nearest_jaccard(
    synthetic: Any, real: Any, *, batch: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``synthetic`` (a binary CSR user x item matrix), the highest Jaccard
    similarity to any row of ``real`` and that row's index.

    Intersections come from one sparse product per batch, so no pair is visited in Python.
    Distance to closest record (DCR) is ``1 - similarity``.
    """
    synthetic = synthetic.tocsr().astype(np.float32)
    real_t = real.tocsr().astype(np.float32).T.tocsc()
    real_sizes = np.asarray(real.sum(axis=1)).ravel()
    best = np.zeros(synthetic.shape[0], dtype=np.float64)
    which = np.full(synthetic.shape[0], -1, dtype=np.int64)
    for start in range(0, synthetic.shape[0], batch):
        rows = synthetic[start : start + batch]
        inter = (rows @ real_t).toarray()
        sizes = np.asarray(rows.sum(axis=1)).ravel()
        union = sizes[:, None] + real_sizes[None, :] - inter
        similarity = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        which[start : start + len(sizes)] = similarity.argmax(axis=1)
        best[start : start + len(sizes)] = similarity.max(axis=1) if similarity.size else 0.0
    return best, which


def exact_copy_rate(synthetic: Any, real: Any) -> float:
    """Share of non-empty synthetic rows whose item set equals some real row's item set."""
    similarity, _ = nearest_jaccard(synthetic, real)
    sizes = np.asarray(synthetic.sum(axis=1)).ravel()
    active = sizes > 0
    return float((similarity[active] >= 1.0 - 1e-9).mean()) if active.any() else 0.0
