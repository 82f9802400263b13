"""`cooccurrence`: give target users items that co-occur with the items they already have.

Co-occurrence counts come from the real training matrix (items x items, ``X.T @ X``). For
each target user the candidates are scored by how often they co-occur with the user's items
(a little popularity breaks ties, so a user with rare items still gets something), the user's
own items are excluded, and ``per_user`` items are sampled among the ``candidates`` best,
with probability proportional to the score (Gumbel top-k: one vectorised draw per batch).

``--target new`` makes new users instead: ``syn-cooc-N`` derived from a real user
(``parent_user``), with that user's co-occurring items but none of its own.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from pydantic import Field

from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    Options,
    Strategy,
    synthetic_table,
    tail_items,
    target_users,
)

# Users per dense score block: users x items floats.
MAX_BLOCK = 1 << 22


class CooccurrenceOptions(Options):
    per_user: int = Field(default=5, ge=1, description="items added per target (or new) user")
    candidates: int = Field(
        default=50, ge=1, description="sample among this many best co-occurring items"
    )


class CooccurrenceStrategy(Strategy):
    name = "cooccurrence"
    description = "Adds items that co-occur with a user's items in the real training data."
    Options = CooccurrenceOptions
    options: CooccurrenceOptions

    def fit(self, train: Dataset, ctx: Context) -> None:
        matrix = train.interaction_matrix(real_only=True)
        counts = (matrix.T @ matrix).tocsr()
        counts.setdiag(0)
        counts.eliminate_zeros()
        self.matrix_ = matrix
        self.cooccurrence_ = counts
        popularity = np.asarray(matrix.sum(axis=0)).ravel()
        self.popularity_ = popularity / max(float(popularity.max()), 1.0)

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context) -> pa.Table:
        rng = ctx.rng(self.name)
        per_user = self.options.per_user
        # Random order, so that a budget smaller than the demand picks users at random.
        users = rng.permutation(target_users(train, request.target))
        if request.budget is not None:
            users = users[: -(-request.budget // per_user)]
        allowed = tail_items(train) if request.target == "long-tail" else None
        items, scores = self._sample(users, allowed, rng)
        position = np.repeat(np.arange(len(users)), per_user)
        found = items >= 0  # a user may have fewer candidates than per_user
        position, items, scores = position[found], items[found], scores[found]
        if request.budget is not None:
            position, items, scores = (part[: request.budget] for part in (position, items, scores))
        parents = train.user_index.to_ids(users[position])
        if request.target == "new":
            user_ids = pa.array([f"syn-cooc-{k}" for k in position], pa.string())
        else:
            user_ids = parents
        return synthetic_table(
            user_ids,
            train.item_index.to_ids(items),
            self.name,
            parent_user=parents,
            score=scores.astype(np.float32),
        )

    def _sample(
        self, users: np.ndarray, allowed: np.ndarray | None, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``per_user`` sampled items per user (-1 where there are too few) and their scores."""
        n_items = self.matrix_.shape[1]
        per_user = min(self.options.per_user, n_items)
        top = min(max(self.options.candidates, per_user), n_items)
        items = np.full((len(users), self.options.per_user), -1, dtype=np.int64)
        scores = np.zeros((len(users), self.options.per_user))
        batch = max(1, MAX_BLOCK // max(n_items, 1))
        for start in range(0, len(users), batch):
            chunk = users[start : start + batch]
            history = self.matrix_[chunk]
            score = np.asarray((history @ self.cooccurrence_).todense(), dtype=np.float64)
            score /= np.maximum(score.max(axis=1, keepdims=True), 1.0)
            score += 1e-3 * self.popularity_[None, :]
            score[_dense_mask(history)] = -np.inf  # never an item the user already has
            if allowed is not None:
                score[:, ~allowed] = -np.inf
            best = np.argpartition(-score, top - 1, axis=1)[:, :top]
            best_score = np.take_along_axis(score, best, axis=1)
            # Gumbel top-k: sampling without replacement in proportion to the score.
            keys = np.log(np.maximum(best_score, 1e-12)) + rng.gumbel(size=best.shape)
            keys[~np.isfinite(best_score)] = -np.inf
            pick = np.argsort(-keys, axis=1, kind="stable")[:, :per_user]
            chosen = np.take_along_axis(best, pick, axis=1)
            chosen_score = np.take_along_axis(best_score, pick, axis=1)
            chosen[~np.isfinite(chosen_score)] = -1
            rows = slice(start, start + len(chunk))
            items[rows, :per_user] = chosen
            scores[rows, :per_user] = np.where(np.isfinite(chosen_score), chosen_score, 0.0)
        return items.ravel(), scores.ravel()


def _dense_mask(history: sp.csr_matrix) -> np.ndarray:
    return np.asarray(history.todense(), dtype=bool)
