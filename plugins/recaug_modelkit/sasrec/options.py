"""The options of a SASRec network and its training (no torch: read when plugins register).

The `sasrec` backend takes them all (with its views and item text); the `seq` strategy's
pseudo-prior mode trains its reversed model with their defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from recaug_core import Options
from recaug_modelkit.options import Patience


class SasrecModelOptions(Options):
    max_len: int = Field(default=50, ge=1, le=4096, description="most recent items attended to")
    hidden: int = Field(default=64, ge=4, description="embedding and hidden size")
    layers: int = Field(default=2, ge=1, le=12, description="self-attention blocks")
    heads: int = Field(default=1, ge=1, description="attention heads (must divide hidden)")
    inner: int = Field(default=64, ge=1, description="feed-forward size inside each block")
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0, description="dropout rate")
    loss: Literal["ce", "bce"] = Field(
        default="ce",
        description="ce: full softmax over all items; bce: sampled negatives, as the paper",
    )
    negatives: int = Field(
        default=1, ge=1, le=1000, description="negative items per position (loss=bce only)"
    )
    lr: float = Field(default=3e-3, gt=0.0, description="Adam learning rate")
    weight_decay: float = Field(default=0.0, ge=0.0, description="Adam weight decay")
    batch_size: int = Field(default=64, ge=1, description="sequences per training step")
    epochs: int = Field(default=200, ge=1, description="most training epochs")
    patience: Patience = 5
    window: Literal["last", "random"] = Field(
        default="last",
        description=(
            "which max_len+1 items of a longer sequence an epoch trains on: the last ones "
            "(as the paper), or a random contiguous window each epoch"
        ),
    )

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> SasrecModelOptions:
        if self.hidden % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide hidden ({self.hidden})")
        return self
