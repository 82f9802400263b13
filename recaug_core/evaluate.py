"""The evaluation protocol: train a backend, rank ALL items for each test user, score.

- Split first; a backend trains on the training part (plus kept synthetic rows when
  evaluating an augmented run) and may use the validation part for early stopping only.
- Full ranking over every catalog item. Only REAL known interactions (training and
  validation rows) are removed from a user's candidates: a synthetic row never hides an item.
- Baseline and augmented runs use the same split; ``seeds`` repeats training with other seeds
  and reports mean and standard deviation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recaug_core import arrays, metrics
from recaug_core.api import Recommender
from recaug_core.data import Dataset
from recaug_core.runtime import RunContext
from recaug_core.split import Split
from recaug_core.targets import GROUPS, tail_items, user_groups

DEFAULT_KS = (10, 20)
SCORE_BATCH = 1024


@dataclass
class Ranking:
    """Top-K lists of the evaluated users and the ground truth to score them against."""

    users: np.ndarray  # user indices (train.user_index) that were evaluated
    top: np.ndarray  # [n_users, max K] item indices, best first; -1 where nothing is left
    relevant_keys: np.ndarray  # sorted row * n_items + item of held-out pairs
    n_relevant: np.ndarray  # held-out items per evaluated user


def known_pairs(parts: Sequence[Dataset], n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of real items each user already has, over the user index."""
    users_list, items_list = [], []
    for part in parts:
        real = part.real()
        u, i = real.codes()
        users_list.append(u)
        items_list.append(i)
    users = np.concatenate(users_list) if users_list else np.zeros(0, np.int64)
    items = np.concatenate(items_list) if items_list else np.zeros(0, np.int64)
    n_users = len(parts[0].user_index)
    order = np.lexsort((items, users))
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.add.at(indptr, users + 1, 1)
    return np.cumsum(indptr), items[order]


@dataclass
class RankingTask:
    """Who is ranked, which items each of them must not be shown, and what counts as a hit.

    Built once from the data; ``rank`` then works for any scoring function, so a backend can
    run the very same protocol on the validation split after every epoch.
    """

    users: np.ndarray  # user indices (train.user_index) with held-out rows and real history
    relevant_keys: np.ndarray
    n_relevant: np.ndarray
    known_indptr: np.ndarray
    known_items: np.ndarray
    n_items: int

    @classmethod
    def build(cls, train: Dataset, heldout: Dataset, known: Sequence[Dataset]) -> RankingTask:
        """Rank ``heldout``'s users that have real rows in ``train``; mask ``known``'s real rows."""
        n_items = train.n_items
        real_lengths = train.real().user_lengths()
        h_users = train.user_index.lookup(heldout.interactions.column("user_id"))
        h_items = train.item_index.lookup(heldout.interactions.column("item_id"))
        ok = (h_users >= 0) & (h_items >= 0)
        h_users, h_items = h_users[ok], h_items[ok]
        ok = real_lengths[h_users] > 0  # a user with no training history cannot be ranked for
        h_users, h_items = h_users[ok], h_items[ok]
        users = arrays.unique(h_users)
        row_of = np.full(len(train.user_index), -1, dtype=np.int64)
        row_of[users] = np.arange(len(users))
        keys = arrays.unique(row_of[h_users] * n_items + h_items)
        n_relevant = np.bincount(keys // n_items, minlength=len(users))
        indptr, indices = known_pairs(known, n_items)
        return cls(users, keys, n_relevant, indptr, indices, n_items)

    @classmethod
    def for_validation(cls, train: Dataset, valid: Dataset | None) -> RankingTask | None:
        """The task a backend watches for early stopping: ``valid``'s users ranked with their
        real training items masked; None when there is nobody to rank."""
        if valid is None or len(valid) == 0:
            return None
        task = cls.build(train, valid, [train])
        return task if len(task.users) else None

    def rank(
        self, score: Callable[[np.ndarray], np.ndarray], k: int, batch: int = SCORE_BATCH
    ) -> Ranking:
        """Top-``k`` items of every user by ``score(user indices) -> [n, n_items]``, known
        items masked; a slot stays -1 when a user has fewer than ``k`` unmasked items."""
        k = min(k, self.n_items)
        top = np.empty((len(self.users), k), dtype=np.int64)
        for start in range(0, len(self.users), batch):
            users = self.users[start : start + batch]
            scores = np.array(score(users), dtype=np.float32, copy=True)
            rows, cols = _csr_rows(self.known_indptr, self.known_items, users)
            scores[rows, cols] = -np.inf
            # The k largest, unordered; partitioning `scores` itself spares a negated copy.
            part = np.argpartition(scores, -k, axis=1)[:, -k:]
            part_scores = np.take_along_axis(scores, part, axis=1)
            order = np.argsort(-part_scores, axis=1, kind="stable")
            best = np.take_along_axis(part, order, axis=1)
            best[np.take_along_axis(part_scores, order, axis=1) == -np.inf] = -1
            top[start : start + len(users)] = best
        return Ranking(self.users, top, self.relevant_keys, self.n_relevant)


def rank(
    model: Recommender,
    train: Dataset,
    heldout: Dataset,
    known: Sequence[Dataset],
    k: int,
) -> Ranking:
    """Top-``k`` of every held-out user that has real training data, with known items masked."""
    return RankingTask.build(train, heldout, known).rank(model.score, k)


def _csr_rows(
    indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(batch row, column) of every stored entry of ``rows``, without a loop over rows."""
    lo, hi = indptr[rows], indptr[rows + 1]
    counts = hi - lo
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    positions = starts + np.arange(counts.sum())
    return np.repeat(np.arange(len(rows)), counts), indices[positions]


def ranking_means(ranking: Ranking, n_items: int, ks: Sequence[int]) -> dict[str, float]:
    """Mean of every ranking metric over the ranked users (what early stopping watches)."""
    rows = np.arange(len(ranking.users))
    hits = metrics.hit_matrix(ranking.top, rows, ranking.relevant_keys, n_items)
    per_user = metrics.ranking_metrics(hits, ranking.n_relevant, ks)
    return {name: float(v.mean()) if len(v) else 0.0 for name, v in per_user.items()}


def score_ranking(ranking: Ranking, train: Dataset, ks: Sequence[int]) -> dict[str, Any]:
    """Mean metrics overall and per user group (grouped by real training-history length)."""
    n_items = train.n_items
    rows = np.arange(len(ranking.users))
    hits = metrics.hit_matrix(ranking.top, rows, ranking.relevant_keys, n_items)
    per_user = metrics.ranking_metrics(hits, ranking.n_relevant, ks)
    real = train.real()
    popularity = real.item_popularity().astype(np.float64)
    n_train_users = int(np.count_nonzero(real.user_lengths()))
    tail = tail_items(train)
    # Thresholds over every user with real training rows, as `--target sparse` uses them,
    # so that "sparse users" means the same users in augmentation and in evaluation.
    groups = user_groups(real.user_lengths())
    codes = groups.codes[ranking.users]

    def summarise(mask: np.ndarray) -> dict[str, Any]:
        result: dict[str, Any] = {
            name: float(v[mask].mean()) if mask.any() else 0.0 for name, v in per_user.items()
        }
        result.update(
            metrics.beyond_accuracy(ranking.top[mask], popularity, n_train_users, tail, ks)
        )
        result["users"] = int(mask.sum())
        return result

    overall = summarise(np.ones(len(rows), dtype=bool))
    overall["groups"] = {name: summarise(codes == code) for code, name in enumerate(GROUPS)}
    overall["group_thresholds"] = groups.thresholds()
    return overall


def evaluate_model(
    backend: type[Recommender],
    options: Mapping[str, Any] | None,
    split: Split,
    train: Dataset,
    ks: Sequence[int],
    ctx: RunContext,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Fit one backend on ``train`` and score it on ``split.test``; returns metrics, timings."""
    model = backend(options)
    started = time.perf_counter()
    model.fit(train, ctx, valid=split.valid)
    fitted = time.perf_counter()
    ranking = rank(model, train, split.test, [split.train, split.valid], max(ks))
    result = score_ranking(ranking, train, ks)
    done = time.perf_counter()
    return result, {"fit_s": fitted - started, "evaluate_s": done - fitted}


def aggregate(per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds; ``std`` mirrors the metrics (population std); ``per_seed`` keeps each."""
    result: dict[str, Any] = _mean(list(per_seed))
    result["std"] = _std(list(per_seed))
    if len(per_seed) > 1:
        result["per_seed"] = [_metrics_only(item) for item in per_seed]
    return result


def _is_metric(key: str) -> bool:
    return "@" in key


def _mean(items: list[Any]) -> Any:
    first = items[0]
    if isinstance(first, dict):
        return {key: _mean([item[key] for item in items]) for key in first}
    if isinstance(first, int) and not isinstance(first, bool) and all(i == first for i in items):
        return first  # counts such as `users` agree across seeds: keep them whole
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return float(np.mean(items))
    return first


def _std(items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in items[0].items():
        if isinstance(value, dict) and key == "groups":
            out[key] = {g: _std([item[key][g] for item in items]) for g in value}
        elif _is_metric(key):
            out[key] = float(np.std([item[key] for item in items]))
    return out


def _metrics_only(item: dict[str, Any]) -> dict[str, float]:
    return {key: value for key, value in item.items() if _is_metric(key)}


def relative_change(
    baseline: Mapping[str, Any], other: Mapping[str, Any]
) -> dict[str, float | None]:
    """(other - baseline) / baseline for every shared numeric metric (None when baseline is 0)."""
    out: dict[str, float | None] = {}
    for key, value in baseline.items():
        if isinstance(value, float) and isinstance(other.get(key), float):
            out[key] = None if value == 0 else (other[key] - value) / value
    return out
