"""Epoch checkpoints as safetensors + JSON, so `--resume` continues where a run was killed.

A checkpoint is ``epoch-NNNN.safetensors`` (model and optimizer tensors) plus
``epoch-NNNN.json`` (epoch, scalars, optimizer hyper-parameters, and the settings it belongs
to). The JSON is written last, each file atomically, so a checkpoint counts only once both are
complete; a SIGKILL between them leaves the previous checkpoint in charge. Only the newest is
kept. Nothing is pickled.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file

from recaug_core import Context, Options, RecaugError, write_atomic, write_json
from recaug_modelkit.early_stopping import EarlyStopping

FORMAT = "recaug-epoch-checkpoint"
M = TypeVar("M", bound=torch.nn.Module)


def fit_settings(
    matrix: Any, options: Options, training_options: type[Options], seed: int
) -> dict[str, Any]:
    """What a checkpoint belongs to: the training options, the seed and the data's shape.

    A checkpoint or saved model whose settings differ is never resumed from.
    """
    return {
        "options": options.model_dump(mode="json", include=set(training_options.model_fields)),
        "seed": seed,
        "shape": list(matrix.shape),
        "nnz": int(matrix.nnz),
    }


@dataclass
class Checkpoint:
    epoch: int
    tensors: dict[str, torch.Tensor]
    state: dict[str, Any]


class EpochCheckpoints:
    """The checkpoints of one training run in ``folder``; ``settings`` identify the run."""

    def __init__(self, folder: Path, settings: dict[str, Any]) -> None:
        self.folder = folder
        self.settings = json.loads(json.dumps(settings))  # as stored: tuples become lists

    def save(self, epoch: int, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        stem = self.folder / f"epoch-{epoch:04d}"
        plain = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        write_atomic(stem.with_suffix(".safetensors"), lambda tmp: save_file(plain, str(tmp)))
        meta = {"format": FORMAT, "epoch": epoch, "settings": self.settings, "state": state}
        write_json(stem.with_suffix(".json"), meta)
        for old in self.folder.glob("epoch-*.*"):
            if old.stem != stem.name:
                old.unlink(missing_ok=True)

    def latest(self) -> Checkpoint | None:
        """The newest complete checkpoint, or None; refuses one made with other settings."""
        metas = sorted(self.folder.glob("epoch-*.json"))
        if not metas:
            return None
        meta = json.loads(metas[-1].read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("settings") != self.settings:
            raise RecaugError(
                f"{metas[-1]}: checkpoint of a run with other settings; "
                "resume with the same options and data, or use another --out"
            )
        tensors = load_file(str(metas[-1].with_suffix(".safetensors")))
        return Checkpoint(int(meta["epoch"]), tensors, meta["state"])

    def clear(self) -> None:
        for old in self.folder.glob("epoch-*.*"):
            old.unlink(missing_ok=True)


def training_tensors(
    modules: Mapping[str, torch.nn.Module], optimizers: Mapping[str, torch.optim.Optimizer]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Model weights and optimizer state flattened to named tensors, plus the JSON rest."""
    tensors: dict[str, torch.Tensor] = {}
    state: dict[str, Any] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{name}/{key}"] = value
    for name, optimizer in optimizers.items():
        saved = optimizer.state_dict()
        scalars: dict[str, Any] = {}
        for index, slots in saved["state"].items():
            for key, value in slots.items():
                if torch.is_tensor(value):
                    tensors[f"{name}/state/{index}/{key}"] = value
                else:
                    scalars[f"{index}/{key}"] = value
        state[name] = {"param_groups": saved["param_groups"], "scalars": scalars}
    return tensors, state


def restore_training(
    checkpoint: Checkpoint,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
) -> None:
    """Load what ``training_tensors`` saved back into the same modules and optimizers."""
    for name, module in modules.items():
        prefix = f"{name}/"
        module.load_state_dict(
            {
                k[len(prefix) :]: v
                for k, v in checkpoint.tensors.items()
                if k.startswith(prefix) and "/state/" not in k
            }
        )
    for name, optimizer in optimizers.items():
        slots: dict[int, dict[str, Any]] = {}
        prefix = f"{name}/state/"
        for key, value in checkpoint.tensors.items():
            if key.startswith(prefix):
                index, slot = key[len(prefix) :].split("/", 1)
                slots.setdefault(int(index), {})[slot] = value
        saved = checkpoint.state[name]
        for key, value in saved["scalars"].items():
            index, slot = key.split("/", 1)
            slots.setdefault(int(index), {})[slot] = value
        optimizer.load_state_dict({"state": slots, "param_groups": saved["param_groups"]})


BEST = "best"  # prefix of the kept best epoch's weights in a checkpoint (early stopping)


@dataclass
class Resumed:
    """Where a resumed training loop continues: epochs done, their history, and the best
    epoch's weights that early stopping had kept (None without validation)."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_weights: dict[str, torch.Tensor] | None = None


def resume_training(
    checkpoints: EpochCheckpoints | None,
    ctx: Context,
    name: str,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    epochs: int,
) -> Resumed:
    """What the newest checkpoint holds, restored into ``modules`` and ``optimizers``, under
    ``--resume``; otherwise nothing done, and stale checkpoints of another run removed."""
    if checkpoints is None:
        return Resumed()
    saved = checkpoints.latest() if ctx.resume else None
    if saved is None:
        checkpoints.clear()
        return Resumed()
    restore_training(saved, modules, optimizers)
    ctx.log(f"{name}: resuming after epoch {saved.epoch} of {epochs}")
    prefix = f"{BEST}/"
    best = {k[len(prefix) :]: v for k, v in saved.tensors.items() if k.startswith(prefix)}
    return Resumed(saved.epoch, saved.state["history"], best or None)


def save_epoch(
    checkpoints: EpochCheckpoints | None,
    ctx: Context,
    epoch: int,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    stopping: EarlyStopping,
) -> None:
    """The checkpoint of a finished epoch (main process only): weights, optimizer state,
    the loop's history and the best epoch's weights it keeps."""
    if checkpoints is None or not ctx.is_main_process:
        return
    tensors, state = training_tensors(modules, optimizers)
    for key, value in (stopping.best_weights or {}).items():
        tensors[f"{BEST}/{key}"] = value
    checkpoints.save(epoch, tensors, {**state, "history": stopping.history})


WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
MODEL_FORMAT = "recaug-generator"


def save_model(folder: Path, module: torch.nn.Module, config: dict[str, Any]) -> None:
    """The fitted model: ``model.safetensors`` and ``config.json`` (written last)."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    write_atomic(folder / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp)))
    write_json(folder / CONFIG_FILE, {"format": MODEL_FORMAT, **json.loads(json.dumps(config))})


def load_model(folder: Path, module: torch.nn.Module, settings: dict[str, Any]) -> bool:
    """Load a model ``save_model`` wrote with the same ``settings``; False if there is none.

    A resumed run whose training had finished skips straight to generation this way.
    """
    config_path = folder / CONFIG_FILE
    if not config_path.exists():
        return False
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("format") != MODEL_FORMAT or config.get("settings") != json.loads(
        json.dumps(settings)
    ):
        return False
    module.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
    return True


def load_or_fit(
    ctx: Context,
    name: str,
    model: M,
    settings: dict[str, Any],
    fit: Callable[[EpochCheckpoints], M],
    kind: str,
) -> M:
    """``model`` with a finished earlier fit's weights under ``--resume``, else the model
    ``fit`` trains (resuming its epoch checkpoints), saved by the main process as ``kind``."""
    folder = ctx.checkpoint_dir(name)
    if ctx.resume and load_model(folder, model, settings):
        ctx.log(f"{name}: training had finished; loaded the fitted model")
        return model
    epochs = EpochCheckpoints(folder / "epochs", settings)
    fitted = fit(epochs)
    if ctx.is_main_process:
        save_model(folder, fitted, {"settings": settings, "kind": kind})
        # The saved model is all a resumed run needs now; an epoch checkpoint (weights,
        # optimiser moments, the best epoch's weights) is several times its size.
        epochs.clear()
    return fitted
