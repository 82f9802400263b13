"""`sasrec`: SASRec trained on one sequence per user, with a loss at every position.

Nothing here imports torch at module level: `recaug --help` and `recaug list` load this module.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from recaug_core import Context, Dataset, Recommender
from recaug_modelkit.options import OperatorRates, TextOptions
from recaug_modelkit.sasrec.options import SasrecModelOptions
from recaug_modelkit.sequence_ops import Operator


class SasrecOptions(SasrecModelOptions, TextOptions, OperatorRates):
    views: Literal["none", "cl4srec", "duorec"] = Field(
        default="none",
        description=(
            "contrastive views added to the loss: cl4srec (two operator-edited copies of each "
            "sequence), duorec (a second dropout pass and a same-target sequence), none"
        ),
    )
    view_weight: float = Field(
        default=0.1,
        ge=0.0,
        le=100.0,
        description="lambda: weight of the contrastive term (0: no views, plain SASRec)",
    )
    view_temperature: float = Field(
        default=1.0, gt=0.0, le=100.0, description="tau: InfoNCE temperature"
    )
    view_similarity: Literal["dot", "cosine"] = Field(
        default="dot", description="similarity of two views' representations in InfoNCE"
    )
    view_ops: list[Operator] = Field(
        default=["crop", "mask", "reorder"],
        description="views=cl4srec: operators each view draws one of (rates: *_rate)",
    )

    @field_validator("view_ops")
    @classmethod
    def _distinct_ops(cls, value: list[Operator]) -> list[Operator]:
        if not value:
            raise ValueError("choose at least one operator")
        if len(set(value)) != len(value):
            raise ValueError("each operator may appear once")
        return value

    @property
    def contrastive(self) -> bool:
        """Whether training adds a contrastive term (a view with weight 0 adds none)."""
        return self.views != "none" and self.view_weight > 0


class SasrecBackend(Recommender):
    name = "sasrec"
    description = "SASRec: causal self-attention over each user's recent items (sequential)."
    Options = SasrecOptions
    options: SasrecOptions
    merge_policies = frozenset({"concat", "weighted", "pretrain"})

    def fit(self, train: Dataset, ctx: Context, valid: Dataset | None = None) -> None:
        from recaug_core import RankingTask, training_phases
        from recaug_modelkit.sasrec.training import fit_sasrec
        from recaug_sasrec.histories import scoring_histories, sequences_of, training_sequences

        self.histories_ = scoring_histories(train, valid)
        text = self.options.text_vectors(train, ctx)
        validation = RankingTask.for_validation(train, valid)
        phases = training_phases(train, ctx.merge)
        model = None
        for phase in phases:
            # a phase after the first (pretrain's fine-tuning) continues from its best weights
            sequences, trainable, weights = training_sequences(phase.data, phase.weights)
            self.fitted_ = fit_sasrec(
                self.options,
                n_items=train.n_items,
                sequences=sequences,
                trainable=trainable,
                weights=weights,
                validation=validation,
                valid_histories=sequences_of(train.real()),
                text_vectors=text,
                item_ids=train.item_index.ids.to_pylist(),
                ctx=ctx,
                name="sasrec" if len(phases) == 1 else f"sasrec-{phase.name}",
                extra_loss=self._views(sequences, train.n_items, ctx),
                text_mode=self.options.text_mode,
                init=model,
            )
            model = self.fitted_.model
        self.scorer_ = self.fitted_.scorer(self.histories_)

    def _views(self, sequences: Any, n_items: int, ctx: Context) -> Any:
        """The contrastive views' extra loss over ``sequences`` (None without views)."""
        if not self.options.contrastive:
            return None
        from recaug_sasrec.views import ContrastiveViews

        options = self.options
        return ContrastiveViews(
            options.views,
            sequences,
            n_items,
            weight=options.view_weight,
            temperature=options.view_temperature,
            similarity=options.view_similarity,
            width=options.max_len,
            ops=options.view_ops,
            rates={op: getattr(options, f"{op}_rate") for op in options.view_ops},
            rng=ctx.rng("sasrec", "views"),
            device=ctx.accelerator().device,
        )

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.scorer_(users)

    @property
    def checkpoint(self) -> Any:
        """Folder holding the trained weights (safetensors) and config (JSON)."""
        return self.fitted_.folder
