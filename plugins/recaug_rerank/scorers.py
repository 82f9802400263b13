"""Who proposes candidate items and who judges them: item co-occurrence, item text, any
registered recommender backend, or a language model, behind one small interface.

Every scorer is fitted on real training rows only and scores whole rows
(``score(users) -> [len(users), n_items]``) over ``train.item_index``. A judge too costly to
score every item (the language model) scores only the candidates instead
(``score_candidates(users, candidates) -> [len(users), k]``).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recaug_core import Context, Dataset, RecaugError, Recommender, component_class

COOCCURRENCE = "cooccurrence"
TEXT = "text"
LLM = "llm"
BUILT_IN = (COOCCURRENCE, TEXT, LLM)


class Scorer(Protocol):
    name: str

    def fit(self, train: Dataset, ctx: Context) -> None: ...

    def score(self, users: np.ndarray) -> np.ndarray: ...


class CandidateScorer(Protocol):
    name: str

    def fit(self, train: Dataset, ctx: Context) -> None: ...

    def score_candidates(self, users: np.ndarray, candidates: np.ndarray) -> np.ndarray: ...


def candidate_scores(
    judge: Scorer | CandidateScorer, users: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """``[len(users), k]``: the judge's score of each user's candidates (item indices)."""
    if hasattr(judge, "score_candidates"):
        return judge.score_candidates(users, candidates)
    return np.take_along_axis(judge.score(users), candidates, axis=1)


class Cooccurrence:
    """Item-based collaborative filtering: an item scores the sum of its cosine similarities
    (co-occurrence counts shrunk towards 0 for rare pairs) to the user's training items."""

    name = COOCCURRENCE

    def __init__(self, shrink: float = 10.0) -> None:
        self.shrink = shrink

    def fit(self, train: Dataset, ctx: Context) -> None:
        rows = train.real().interaction_matrix().astype(np.float32)
        counts = (rows.T @ rows).tocsr()
        counts.setdiag(0)
        counts.eliminate_zeros()
        norms = np.sqrt(np.maximum(np.asarray(rows.sum(axis=0)).ravel(), 1.0))
        similarity = sp.diags(1.0 / norms) @ counts @ sp.diags(1.0 / norms)
        similarity = similarity.tocsr()
        # shrinkage: a pair seen together once is weaker evidence than one seen fifty times
        similarity.data *= counts.data / (counts.data + self.shrink)
        self.rows_, self.similarity_ = rows, similarity.astype(np.float32)

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.rows_[users] @ self.similarity_).todense(), dtype=np.float32)


class ItemText:
    """Content similarity: cosine between an item's sentence embedding and the mean
    embedding of the user's training items (item text columns, e.g. title)."""

    name = TEXT

    def __init__(self, columns: list[str], model: str) -> None:
        self.columns, self.model = columns, model

    def fit(self, train: Dataset, ctx: Context) -> None:
        from recaug_modelkit.text import encode_texts

        if not self.columns:
            raise RecaugError("scorer 'text' needs item text columns: set item_text=title,...")
        vectors = encode_texts(
            train.item_texts(self.columns),
            self.model,
            cache_dir=ctx.checkpoint_dir("text-embeddings"),
            show_progress=ctx.draws_progress,
        ).astype(np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)
        self.rows_ = train.real().interaction_matrix().astype(np.float32)
        self.vectors_ = vectors

    def score(self, users: np.ndarray) -> np.ndarray:
        profile = np.asarray(self.rows_[users] @ self.vectors_)
        profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-8)
        return profile @ self.vectors_.T


class LanguageModel:
    """lora-gen's language model, fine-tuned on the training histories written with item
    titles (``options`` are lora-gen's, e.g. ``base_model=gemma-3-270m``): a candidate scores
    its log-probability of coming next after the user's history, computed in batches without
    generating anything. Longer titles have lower log-probabilities: the score is the item's
    probability, not a per-token average."""

    name = LLM

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    def fit(self, train: Dataset, ctx: Context) -> None:
        strategy: Any = component_class("strategies", "lora-gen")(self.options)
        strategy.fit(train, ctx)
        self.strategy_, self.ctx_ = strategy, ctx

    def score_candidates(self, users: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        return np.asarray(self.strategy_.score_candidates(users, candidates, self.ctx_))


class Backend:
    """Any registered recommender backend, trained on the training rows. With ``holdout``,
    one random training row of every user who has at least three is held out for the
    backend's early stopping (the strategy never sees the run's validation rows)."""

    def __init__(self, name: str, options: dict[str, Any], holdout: bool) -> None:
        self.name, self.options, self.holdout = name, options, holdout

    def fit(self, train: Dataset, ctx: Context) -> None:
        real = train.real()
        fit_part, valid = held_out(real, ctx) if self.holdout else (real, None)
        model = component_class("backends", self.name)(self.options)
        assert isinstance(model, Recommender)
        model.fit(fit_part, ctx, valid=valid)
        self.model_ = model

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.score(users), dtype=np.float32)


def held_out(train: Dataset, ctx: Context) -> tuple[Dataset, Dataset]:
    """(rows to fit on, one random row per user with at least three rows to stop early on)."""
    users, _ = train.codes()
    rng = ctx.rng("rerank", "holdout")
    order = np.lexsort((rng.random(len(users)), users))
    first = np.ones(len(order), dtype=bool)
    first[1:] = users[order][1:] != users[order][:-1]
    lengths = np.bincount(users, minlength=train.n_users)
    chosen = order[first & (lengths[users[order]] >= 3)]
    mask = np.zeros(len(users), dtype=bool)
    mask[chosen] = True
    table = train.interactions
    return (
        train.with_interactions(table.filter(pa.array(~mask))),
        train.with_interactions(table.filter(pa.array(mask))),
    )


def make_judge(
    name: str,
    holdout: bool,
    item_text: list[str],
    text_model: str,
    llm_options: dict[str, Any],
) -> Scorer | CandidateScorer:
    """One of rerank's independent judges (``scorers``); backends with their defaults."""
    if name == LLM:
        return LanguageModel(llm_options)
    return make_scorer(name, {}, holdout, item_text, text_model)


def make_scorer(
    name: str, options: dict[str, Any], holdout: bool, item_text: list[str], text_model: str
) -> Scorer:
    if name == COOCCURRENCE:
        return Cooccurrence()
    if name == TEXT:
        return ItemText(item_text, text_model)
    return Backend(name, options, holdout)
