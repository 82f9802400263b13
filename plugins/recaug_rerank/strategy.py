"""`rerank`: teacher-selected candidates.

A recommender trained on the real training rows (the *proposer*; by default item
co-occurrence, which needs no training) suggests its top
``candidates`` unseen items for each target user; each independent *scorer* ranks the same
candidates and votes for those in its top ``agree`` share. Candidates with a majority of votes
are kept, best first, at most ``per_user`` per user. A row's ``score`` is its confidence: the
mean over proposer and scorers of how high they ranked it (1 for first, falling to 1/K), so
the ``weighted:by=score`` merge policy can trust it accordingly.

Anchors: LLMRec (Wei et al., WSDM 2024) lets an LLM pick positives among a base model's
candidates; VoteGCL (2025) keeps a graph model's candidates that a majority of LLM re-rankers
agree on. Here the scorers are item co-occurrence, item text, any backend (e.g. ``vae``), or a
language model (``llm``: lora-gen's model, e.g. Gemma 3 270M, fine-tuned on the training
histories, judging each candidate by its log-probability after the user's history).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    Options,
    OptionsError,
    Strategy,
    component_class,
    synthetic_table,
    tail_items,
    target_users,
)
from recaug_modelkit.text import DEFAULT_MODEL
from recaug_rerank.scorers import (
    BUILT_IN,
    COOCCURRENCE,
    CandidateScorer,
    Scorer,
    candidate_scores,
    make_judge,
    make_scorer,
)

SCORE_BATCH = 1024


class RerankOptions(Options):
    proposer: str = Field(
        default=COOCCURRENCE,
        description="who proposes candidates: a backend name (see `recaug list backends`) "
        "or cooccurrence",
    )
    proposer_options: dict[str, Any] = Field(
        default_factory=dict, description="options of the proposing backend"
    )
    scorers: list[str] = Field(
        default_factory=list,
        description="independent judges of the candidates: cooccurrence, text, llm, or "
        "backend names; a candidate needs a majority of their votes (none: trust the proposer)",
    )
    llm_options: dict[str, Any] = Field(
        default_factory=dict,
        description="options of the llm scorer's language model (lora-gen's options, e.g. "
        "base_model=gemma-3-270m)",
    )
    candidates: int = Field(default=20, ge=1, le=1000, description="candidates per user")
    agree: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="a scorer votes for the candidates in its top share of them",
    )
    per_user: int = Field(default=3, ge=1, le=1000, description="most rows kept per user")
    holdout: bool = Field(
        default=True,
        description="backends stop early on one held-out training row per user "
        "(else they train every epoch)",
    )
    item_text: list[str] = Field(
        default_factory=list, description="item text columns for the text scorer"
    )
    text_model: str = Field(default=DEFAULT_MODEL, description="sentence model for text")

    @field_validator("proposer")
    @classmethod
    def _proposer(cls, value: str) -> str:
        if value != COOCCURRENCE:
            component_class("backends", value)  # an unknown backend is named at once
        return value

    @field_validator("scorers")
    @classmethod
    def _scorers(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in BUILT_IN:
                component_class("backends", name)
        return value


class RerankStrategy(Strategy):
    name = "rerank"
    description = "A teacher recommender's top candidates, kept where independent scorers agree."
    Options = RerankOptions
    options: RerankOptions

    def fit(self, train: Dataset, ctx: Context) -> None:
        o = self.options
        self.proposer_: Scorer = make_scorer(
            o.proposer, o.proposer_options, o.holdout, o.item_text, o.text_model
        )
        self.proposer_.fit(train, ctx)
        self.scorers_: list[Scorer | CandidateScorer] = [
            make_judge(name, o.holdout, o.item_text, o.text_model, o.llm_options)
            for name in o.scorers
        ]
        for scorer in self.scorers_:
            scorer.fit(train, ctx)

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context) -> pa.Table:
        if request.target == "new":
            raise OptionsError(
                "strategy 'rerank' proposes items for real users; --target new is not one of "
                "its targets (use sparse, all or long-tail)"
            )
        users = target_users(train, request.target)
        allowed = tail_items(train) if request.target == "long-tail" else None
        known = train.real().interaction_matrix()
        parts = []
        bar = ctx.progress(total=len(users), desc="rerank", unit="user")
        for start in range(0, len(users), SCORE_BATCH):
            batch = users[start : start + SCORE_BATCH]
            parts.append(self._rows(batch, known, allowed))
            bar.update(len(batch))
        bar.close()
        u, i, s = (np.concatenate(x) if parts else np.zeros(0) for x in zip(*parts))
        order = np.argsort(-s, kind="stable")  # most confident first: a budget keeps the best
        if request.budget is not None:
            order = order[: request.budget]
        user_ids = train.user_index.to_ids(u[order].astype(np.int64))
        return synthetic_table(
            user_ids,
            train.item_index.to_ids(i[order].astype(np.int64)),
            self.name,
            parent_user=user_ids,
            score=s[order].astype(np.float32),
        )

    def _rows(
        self, users: np.ndarray, known: Any, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user, item, confidence) of the kept candidates of a batch of users."""
        o = self.options
        proposed = self.proposer_.score(users)
        rows, cols = known[users].nonzero()
        proposed[rows, cols] = -np.inf  # a user's own training items are no candidates
        if allowed is not None:
            proposed[:, ~allowed] = -np.inf
        k = min(o.candidates, proposed.shape[1])
        top = np.argsort(-proposed, axis=1, kind="stable")[:, :k]
        valid = np.take_along_axis(proposed, top, axis=1) > -np.inf
        closeness = [1.0 - np.arange(k) / k]  # the proposer's own order, best = 1
        votes = np.zeros(top.shape, dtype=np.int64)
        for scorer in self.scorers_:
            judged = candidate_scores(scorer, users, top)
            rank = np.argsort(np.argsort(-judged, axis=1, kind="stable"), axis=1)
            votes += rank < math.ceil(o.agree * k)
            closeness.append(1.0 - rank / k)
        confidence = np.mean(np.broadcast_arrays(*closeness), axis=0)
        kept = valid & (votes * 2 > len(self.scorers_)) if self.scorers_ else valid
        confidence = np.where(kept, confidence, -np.inf)
        best = np.argsort(-confidence, axis=1, kind="stable")[:, : o.per_user]
        chosen = np.take_along_axis(confidence, best, axis=1)
        ok = chosen > -np.inf
        user_col = np.repeat(users[:, None], best.shape[1], axis=1)
        items = np.take_along_axis(top, best, axis=1)
        return user_col[ok], items[ok], chosen[ok]
