"""Options of the `gan` strategy (no torch here: read at plugin registration)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from recaug_modelkit.options import (
    GenerationOptions,
    HoldoutOption,
    Patience,
    SampledItemsOption,
    SeedOption,
    ThreadsOption,
)


class GanTrainingOptions(SeedOption, SampledItemsOption):
    hidden_g: int = Field(default=400, ge=1, le=65_536, description="generator hidden size")
    hidden_d: int = Field(default=125, ge=1, le=65_536, description="discriminator hidden size")
    layers: int = Field(default=1, ge=1, le=8, description="hidden layers of each network")
    pm_ratio: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="PM: share of unpurchased items the discriminator also sees",
    )
    zr_ratio: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="ZR: share of unpurchased items whose output is pushed to 0",
    )
    zr_weight: float = Field(default=0.1, ge=0.0, description="ZR: weight of that term (alpha)")
    # Chosen on the MovieLens-100K validation split, ranking items by the generator's output:
    # wgan-gp at lr 3e-4 peaked at NDCG@10 0.257 near epoch 50; the cross-entropy loss stayed
    # between 0.03 and 0.16 at learning rates 3e-4 to 3e-3 (docs/strategies/gan-vae.md).
    loss: Literal["gan", "wgan-gp"] = Field(
        default="wgan-gp",
        description="gan: cross-entropy GAN loss (CFGAN); wgan-gp: Wasserstein with penalty",
    )
    gp_weight: float = Field(default=10.0, ge=0.0, description="wgan-gp: gradient penalty weight")
    d_steps: int = Field(default=1, ge=1, le=100, description="discriminator updates per batch")
    g_steps: int = Field(default=1, ge=1, le=100, description="generator updates per batch")
    epochs: int = Field(default=50, ge=1, le=100_000, description="passes over the users")
    batch_size: int = Field(default=64, ge=1, description="users per optimiser step")
    lr: float = Field(default=3e-4, gt=0, le=10, description="Adam learning rate of both nets")


class GanFitOptions(GanTrainingOptions, HoldoutOption):
    """What shapes the fitted generator (a checkpoint of other values is not resumed)."""

    patience: Patience = 3


class GanStrategyOptions(GanFitOptions, GenerationOptions, ThreadsOption):
    condition_keep: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="synthesize: share of the parent user's items kept in the condition",
    )
