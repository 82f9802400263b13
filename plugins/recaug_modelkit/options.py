"""Options that several model plugins take, declared once so they mean one thing everywhere.

- ``seed`` (``SeedOption``): the training seed; unset, the run's ``--seed``.
- ``patience`` (the ``Patience`` type, each backend with its own default): epochs without a
  better validation NDCG@10 before training stops; **0 disables early stopping** (every epoch
  is trained). Either way the weights of the best validation epoch are kept.
- ``item_text``, ``text_model``, ``text_mode`` (``TextOptions``): item text as sentence
  embeddings.
- ``crop_rate`` ... ``insert_rate`` (``OperatorRates``): how much each sequence operator of
  ``sequence_ops`` changes (the `seq` strategy's rows, the `sasrec` backend's CL4SRec views);
- ``mode``, ``per_user``, ``new_users`` (``GenerationOptions``): how a generator strategy
  turns item scores into rows.
- ``negatives`` (``SampledItemsOption``): how many catalog items a batch's outputs are
  computed on besides its own (``recaug_modelkit.rows.candidate_items``).
- ``valid_share`` (``HoldoutOption``): the users whose held-back training rows validate a
  generator (``recaug_modelkit.holdout``).
- ``threads`` (``ThreadsOption``): torch's CPU threads (``recaug_modelkit.threads``).

No torch here: option classes are read when plugins register.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from recaug_core import Context, Dataset, Options
from recaug_modelkit.text import DEFAULT_MODEL, encode_texts

Patience = Annotated[
    int,
    Field(
        ge=0,
        description="stop after this many epochs without a better validation NDCG@10 "
        "(0: no early stopping, train all epochs); the best epoch's weights are kept",
    ),
]


class SeedOption(Options):
    seed: int | None = Field(
        default=None, ge=0, description="training seed (default: the run's --seed)"
    )

    def training_seed(self, ctx: Context) -> int:
        return ctx.seed if self.seed is None else self.seed


class TextOptions(Options):
    item_text: list[str] | None = Field(
        default=None,
        description="item text columns (e.g. title,genres) whose sentence embeddings shape "
        "the item representations; unset: item ids only",
    )
    text_model: str = Field(
        default=DEFAULT_MODEL,
        description="sentence-transformers model id or local folder for item_text",
    )
    text_mode: Literal["add", "init"] = Field(
        default="add",
        description="add: a learned item vector plus a learned projection of its text "
        "embedding; init: item vectors start from the text embeddings",
    )

    def text_vectors(self, train: Dataset, ctx: Context) -> np.ndarray | None:
        """Sentence embeddings of ``item_text`` per item of ``train.item_index`` (cached in
        the run's checkpoints); None when no text is asked for."""
        if not self.item_text:
            return None
        return encode_texts(
            train.item_texts(self.item_text),
            self.text_model,
            cache_dir=ctx.checkpoint_dir("text-embeddings"),
            show_progress=ctx.draws_progress,
        )


class GenerationOptions(Options):
    """How the `vae` and `gan` strategies turn item scores into rows."""

    mode: Literal["auto", "extend", "synthesize"] = Field(
        default="auto",
        description="extend: new items for real users; synthesize: new syn-<strategy>-* "
        "users; auto: synthesize for --target new, else extend",
    )
    per_user: int = Field(
        default=10, ge=1, le=10_000, description="extend: new items per target user"
    )
    new_users: int = Field(
        default=100,
        ge=1,
        le=10_000_000,
        description="synthesize: number of new users when no --budget is given",
    )


class OperatorRates(Options):
    """The rate of each operator of ``recaug_modelkit.sequence_ops`` (CL4SRec's and CoSeRec's
    defaults)."""

    crop_rate: float = Field(
        default=0.6, gt=0.0, le=1.0, description="crop keeps floor(rate*length) contiguous items"
    )
    mask_rate: float = Field(
        default=0.3, gt=0.0, lt=1.0, description="mask drops floor(rate*length) random items"
    )
    reorder_rate: float = Field(
        default=0.6,
        gt=0.0,
        le=1.0,
        description="reorder shuffles a contiguous run of floor(rate*length) items",
    )
    substitute_rate: float = Field(
        default=0.1,
        gt=0.0,
        le=1.0,
        description="substitute replaces floor(rate*length) random items with correlated ones",
    )
    insert_rate: float = Field(
        default=0.4,
        gt=0.0,
        le=1.0,
        description="insert adds a correlated item after floor(rate*length) random items",
    )


class SampledItemsOption(Options):
    negatives: int = Field(
        default=1024,
        ge=0,
        le=10_000_000,
        description="items drawn at random per batch, besides the batch's own, on which "
        "the per-item outputs are trained (a sampled softmax for vae); the whole catalog "
        "when it is not more than twice that (0: always the whole catalog)",
    )


class HoldoutOption(Options):
    valid_share: float = Field(
        default=0.1,
        ge=0.0,
        lt=1.0,
        description="share of users (at most 5,000) who hold back a fifth of their training "
        "items to validate on: training stops after `patience` epochs without a better "
        "NDCG@10 on them (0: no validation, train all epochs)",
    )


class ThreadsOption(Options):
    threads: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="torch CPU threads while fitting and sampling (default: chosen from the "
        "model's size and the CPUs this process may use; see docs/benchmarks.md)",
    )
