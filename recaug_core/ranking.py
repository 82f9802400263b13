"""Ranking ALL items for held-out users and scoring the lists: the heart of the protocol.

Full ranking over every catalog item. Only REAL known interactions (training and validation
rows) are removed from a user's candidates: a synthetic row never hides an item. A backend
runs the very same ranking on the validation split for early stopping (``RankingTask``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from recaug_core import arrays, metrics
from recaug_core.api import Recommender
from recaug_core.data import Dataset
from recaug_core.targets import GROUPS, UserGroups, tail_items, training_groups

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

    def rank(self, score: Callable[[np.ndarray], Any], k: int, batch: int = SCORE_BATCH) -> Ranking:
        """Top-``k`` items of every user by ``score(user indices) -> [n, n_items]``, known
        items masked; a slot stays -1 when a user has fewer than ``k`` unmasked items.

        ``score`` may return a numpy array or a torch tensor (on any device): a backend that
        validates every epoch hands over its tensor as it is, and the top ``k`` are then taken
        with ``torch.topk``, several times faster than numpy's partition of a whole row."""
        k = min(k, self.n_items)
        top = np.empty((len(self.users), k), dtype=np.int64)
        for start in range(0, len(self.users), batch):
            users = self.users[start : start + batch]
            rows, cols = _csr_rows(self.known_indptr, self.known_items, users)
            scores = score(users)
            if _is_tensor(scores):
                best = _top_k_torch(scores, rows, cols, k)
            else:
                best = _top_k_numpy(np.array(scores, dtype=np.float32, copy=True), rows, cols, k)
            top[start : start + len(users)] = best
        return Ranking(self.users, top, self.relevant_keys, self.n_relevant)


def _is_tensor(value: Any) -> bool:
    # Checked by module name: the core never imports torch for a backend that has none.
    return type(value).__module__.startswith("torch")


def _top_k_numpy(scores: np.ndarray, rows: np.ndarray, cols: np.ndarray, k: int) -> np.ndarray:
    scores[rows, cols] = -np.inf
    # The k largest, unordered; partitioning `scores` itself spares a negated copy.
    part = np.argpartition(scores, -k, axis=1)[:, -k:]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    best = np.take_along_axis(part, order, axis=1)
    best[np.take_along_axis(part_scores, order, axis=1) == -np.inf] = -1
    return best


def _top_k_torch(scores: Any, rows: np.ndarray, cols: np.ndarray, k: int) -> np.ndarray:
    import torch

    scores = scores.detach().to(dtype=torch.float32, copy=True)
    device = scores.device
    scores[torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device)] = -torch.inf
    values, best = torch.topk(scores, k, dim=1, sorted=True)
    best[values == -torch.inf] = -1
    out: np.ndarray = best.cpu().numpy()
    return out


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


@dataclass(frozen=True)
class UserScores:
    """Every ranking metric of every ranked user: what the paired significance test compares
    (``stats``), stored beside an evaluation as ``eval/BACKEND.users.parquet``."""

    user_ids: pa.Array  # strings, one per ranked user
    groups: np.ndarray  # group code per user (0 sparse, 1 medium, 2 dense)
    values: dict[str, np.ndarray]  # "ndcg@10" -> one float32 value per user

    def to_table(self) -> pa.Table:
        columns = {"user_id": self.user_ids, "group": pa.array(self.groups, pa.int8())}
        columns |= {name: pa.array(v, pa.float32()) for name, v in self.values.items()}
        return pa.table(columns)

    @classmethod
    def from_table(cls, table: pa.Table) -> UserScores:
        names = [n for n in table.column_names if "@" in n]
        return cls(
            table.column("user_id").combine_chunks(),
            np.asarray(table.column("group").to_numpy(), dtype=np.int8),
            {n: np.asarray(table.column(n).to_numpy(), dtype=np.float32) for n in names},
        )


def score_ranking(ranking: Ranking, train: Dataset, ks: Sequence[int]) -> dict[str, Any]:
    """Mean metrics overall and per user group (grouped by real training-history length)."""
    return score_users(ranking, train, ks)[0]


def score_users(
    ranking: Ranking, train: Dataset, ks: Sequence[int]
) -> tuple[dict[str, Any], UserScores]:
    """Mean metrics overall and per user group, and every ranked user's own scores."""
    n_items = train.n_items
    rows = np.arange(len(ranking.users))
    hits = metrics.hit_matrix(ranking.top, rows, ranking.relevant_keys, n_items)
    per_user = metrics.ranking_metrics(hits, ranking.n_relevant, ks)
    real = train.real()
    popularity = real.item_popularity().astype(np.float64)
    n_train_users = int(np.count_nonzero(real.user_lengths()))
    tail = tail_items(train)
    # Groups over every user with real training rows, as `--target sparse` forms them, so
    # that "sparse users" means the same users in augmentation and in evaluation.
    groups = training_groups(train)
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
    overall["groups"] = {
        name: summarise(codes == code) | _group_facts(groups, code)
        for code, name in enumerate(GROUPS)
    }
    overall["group_thresholds"] = groups.thresholds()
    # float32, as stored: a resumed experiment tests exactly what an uninterrupted one did
    stored = {name: v.astype(np.float32) for name, v in per_user.items()}
    scores = UserScores(train.user_index.to_ids(ranking.users), codes, stored)
    return overall, scores


def _group_facts(groups: UserGroups, code: int) -> dict[str, int]:
    return {
        "train_users": groups.sizes[code],
        "min_length": groups.min_lengths[code],
        "max_length": groups.max_lengths[code],
    }
