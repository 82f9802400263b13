"""`embedding`: BPR matrix factorisation or LightGCN (optionally with contrastive views: SGL,
SimGCL, XSimGCL), the default recommender of `evaluate`.

This module is imported when the plugin registers, so it must not import torch: training
lives in ``recaug_embedding.training``, imported by ``fit``. Scoring a fitted (or loaded)
model needs only numpy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from recaug_core import Context, Dataset, RecaugError, Recommender
from recaug_modelkit.options import Patience, SeedOption, TextOptions

FORMAT = "recaug-embedding"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


# Defaults per model, chosen on the MovieLens-100K validation split (docs/backends.md): few
# large batches with several negatives each and a high Adam learning rate reach RecBole's
# accuracy in a fraction of its optimiser steps; early stopping picks the epoch. BPR needs a
# small initialisation and no L2 term to match RecBole's BPR; LightGCN's averaging over hops
# regularises it already and it profits from wider vectors.
MODEL_DEFAULTS: dict[str, dict[str, float | int]] = {
    "lightgcn": {
        "dim": 128,
        "lr": 0.02,
        "reg": 1e-4,
        "batch_size": 16384,
        "negatives": 4,
        "init_std": 0.1,
    },
    "bpr": {
        "dim": 64,
        "lr": 0.01,
        "reg": 0.0,
        "batch_size": 8192,
        "negatives": 8,
        "init_std": 0.01,
    },
}


# Defaults per view: the settings the papers publish (SELFRec, the authors' code: SGL on
# iFashion, SimGCL on Yelp2018, XSimGCL on Yelp2018), with the encoder they were published
# with: SimGCL's and XSimGCL's code scores the mean over hops 1..L (``skip_ego``), SGL's
# LightGCN's 0..L. docs/backends.md has what they did here.
VIEW_DEFAULTS: dict[str, dict[str, float | int | bool]] = {
    "sgl": {"view_weight": 0.1, "view_temperature": 0.2, "view_drop": 0.1},
    "simgcl": {"view_weight": 0.5, "view_temperature": 0.2, "view_noise": 0.1, "skip_ego": True},
    "xsimgcl": {
        "view_weight": 0.2,
        "view_temperature": 0.15,
        "view_noise": 0.2,
        "view_layer": 1,
        "skip_ego": True,
    },
}


class EmbeddingOptions(SeedOption, TextOptions):
    model: Literal["bpr", "lightgcn"] = Field(
        default="lightgcn",
        description="bpr: matrix factorisation; lightgcn: embeddings averaged over graph hops",
    )
    dim: int = Field(default=128, ge=1, le=4096, description="embedding size (bpr: 64)")
    layers: int = Field(default=2, ge=1, le=8, description="LightGCN propagation hops")
    epochs: int = Field(default=200, ge=1, le=100_000, description="most passes over the data")
    lr: float = Field(default=0.02, gt=0, le=10, description="Adam learning rate (bpr: 0.01)")
    reg: float = Field(
        default=1e-4, ge=0, description="L2 weight on the batch's embeddings (bpr: 0)"
    )
    batch_size: int = Field(
        default=16384, ge=1, description="positive pairs per optimiser step (bpr: 8192)"
    )
    negatives: int = Field(
        default=4, ge=1, le=1024, description="sampled negative items per positive pair (bpr: 8)"
    )
    skip_ego: bool = Field(
        default=False,
        description="lightgcn: score with the mean over hops 1..layers, leaving out the "
        "layer-0 vectors, as the SimGCL and XSimGCL authors' encoder does",
    )
    init_std: float = Field(
        default=0.1, gt=0, description="standard deviation of the initial vectors (bpr: 0.01)"
    )

    views: Literal["none", "sgl", "simgcl", "xsimgcl"] = Field(
        default="none",
        description="LightGCN's contrastive views: sgl (edge dropout), simgcl (noise), "
        "xsimgcl (noise, cross-layer, one pass)",
    )
    view_weight: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description="lambda, the contrastive term's weight (sgl 0.1, simgcl 0.5, xsimgcl 0.2)",
    )
    view_temperature: float = Field(
        default=0.2, gt=0, le=100, description="tau of InfoNCE (sgl, simgcl 0.2, xsimgcl 0.15)"
    )
    view_noise: float = Field(
        default=0.1, ge=0, le=100, description="simgcl, xsimgcl: eps, noise length (0.1, 0.2)"
    )
    view_drop: float = Field(
        default=0.1, ge=0, lt=1, description="sgl: each edge's drop probability per view"
    )
    view_layer: int = Field(
        default=1,
        ge=1,
        le=8,
        description="xsimgcl: the hop contrasted with the mean over hops 1..layers",
    )
    view_batch: int = Field(
        default=1024,
        ge=2,
        le=1_000_000,
        description="most users (items) per InfoNCE term; larger batches are split in groups",
    )

    @model_validator(mode="before")
    @classmethod
    def _model_defaults(cls, data: Any) -> Any:
        # Options the user did not give take the chosen model's (and view's) defaults.
        if not isinstance(data, dict):
            return data
        model = data.get("model", "lightgcn")
        defaults = {
            **MODEL_DEFAULTS.get(str(model), {}),
            **VIEW_DEFAULTS.get(str(data.get("views", "none")), {}),
        }
        return {**defaults, **data}

    @model_validator(mode="after")
    def _views_need_a_graph(self) -> EmbeddingOptions:
        if self.skip_ego and self.model != "lightgcn":
            raise ValueError("skip_ego needs model=lightgcn (hops to average)")
        if self.views != "none" and self.model != "lightgcn":
            raise ValueError(f"views={self.views} needs model=lightgcn (a graph to propagate)")
        if self.views == "xsimgcl" and self.view_layer > self.layers:
            raise ValueError(
                f"view_layer={self.view_layer} is past the last hop (layers={self.layers})"
            )
        return self

    def view_settings(self) -> Any:
        """The views' settings (``recaug_embedding.views.ViewSettings``; imports torch)."""
        from recaug_embedding.views import ViewSettings

        assert self.views != "none"
        return ViewSettings(
            kind=self.views,
            weight=self.view_weight,
            temperature=self.view_temperature,
            noise=self.view_noise,
            drop=self.view_drop,
            layer=self.view_layer,
            group=self.view_batch,
        )

    patience: Patience = 10
    save_dir: str | None = Field(
        default=None,
        description="save each fitted model (safetensors + config.json) into a subfolder "
        "of this folder, named baseline-seedN or augmented-seedN",
    )


class EmbeddingBackend(Recommender):
    name = "embedding"
    description = "BPR matrix factorisation or LightGCN with sampled negatives (default)."
    Options = EmbeddingOptions
    options: EmbeddingOptions
    merge_policies = frozenset({"concat", "weighted", "pretrain", "view"})

    user_vectors_: np.ndarray
    item_vectors_: np.ndarray

    def fit(self, train: Dataset, ctx: Context, valid: Dataset | None = None) -> None:
        from recaug_embedding.training import fit_embeddings

        seed = self.options.training_seed(ctx)
        text = self.options.text_vectors(train, ctx)
        fitted = fit_embeddings(train, valid, self.options, ctx, seed, text=text)
        self.user_vectors_, self.item_vectors_ = fitted.user_vectors, fitted.item_vectors
        self.user_ids_, self.item_ids_ = train.user_index.ids, train.item_index.ids
        self.training_ = {
            "seed": seed,
            "epochs_run": fitted.epochs_run,
            "best_epoch": fitted.best_epoch,
            "best_valid_ndcg@10": fitted.best_valid,
            "history": fitted.history,
        }
        if self.options.save_dir is not None and ctx.is_main_process:
            synthetic = train.interactions.num_rows != train.real().interactions.num_rows
            kind = "augmented" if synthetic else "baseline"
            self.save(Path(self.options.save_dir) / f"{kind}-seed{seed}")

    def score(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        return self.user_vectors_[users] @ self.item_vectors_.T

    # -- saving and loading ------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write ``model.safetensors`` (final user and item vectors) and ``config.json``."""
        from safetensors.numpy import save_file

        from recaug_core import write_atomic, write_json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"user_vectors": self.user_vectors_, "item_vectors": self.item_vectors_}
        write_atomic(folder / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp)))
        config = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "backend": self.name,
            "options": self.options_dict(),
            "training": getattr(self, "training_", {}),
            "user_ids": self.user_ids_.to_pylist(),
            "item_ids": self.item_ids_.to_pylist(),
        }
        write_json(folder / CONFIG_FILE, config)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> EmbeddingBackend:
        """A fitted backend from a folder written by ``save`` (scores with numpy only)."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        folder = Path(folder)
        config = _read_config(folder / CONFIG_FILE)
        try:
            tensors = load_file(str(folder / WEIGHTS_FILE))
        except (OSError, SafetensorError) as exc:
            raise RecaugError(f"{folder / WEIGHTS_FILE}: cannot read the weights ({exc})") from None
        model = cls(config.get("options", {}))
        model.user_vectors_ = tensors["user_vectors"]
        model.item_vectors_ = tensors["item_vectors"]
        model.user_ids_ = pa.array(config["user_ids"], pa.string())
        model.item_ids_ = pa.array(config["item_ids"], pa.string())
        model.training_ = config.get("training", {})
        if model.user_vectors_.shape[0] != len(model.user_ids_) or model.item_vectors_.shape[
            0
        ] != len(model.item_ids_):
            raise RecaugError(f"{folder}: weights and config.json disagree on the id counts")
        return model


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise RecaugError(f"{path}: no such file; not a saved embedding model") from None
    except json.JSONDecodeError as exc:
        raise RecaugError(f"{path}: not valid JSON (line {exc.lineno})") from None
    if config.get("format") != FORMAT or config.get("version") != FORMAT_VERSION:
        raise RecaugError(
            f"{path}: not a '{FORMAT}' version {FORMAT_VERSION} config "
            f"(found {config.get('format')!r} version {config.get('version')!r})"
        )
    return config
