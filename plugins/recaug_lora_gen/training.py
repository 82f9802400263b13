"""One training loop for both phases (pretraining the tiny base, LoRA fine-tuning), with
checkpoints that make an interrupted run continue exactly where it stopped.

Determinism is by construction rather than by saved RNG state: epoch ``e`` shuffles with a
generator seeded from (seed, phase, e), and update ``u`` reseeds torch (dropout) from
(seed, phase, u). A checkpoint therefore only needs the trainable weights, the optimizer
state and the update counter, all stored as safetensors plus a small JSON file.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from recaug_core import Context, derived_seed

IGNORE = -100
CHECKPOINT = "checkpoint"
STATE = "state.json"
SUMMARY = "trained.json"  # when a phase ends: updates, where it resumed, tokens, time, losses


@dataclass
class Example:
    """Decoder-only: ``labels`` aligned with ``input_ids`` (IGNORE on the prompt).
    Encoder-decoder: ``input_ids`` feed the encoder and ``labels`` are the decoder target."""

    input_ids: list[int]
    labels: list[int]


@dataclass
class Schedule:
    epochs: int
    lr: float
    batch_size: int
    grad_accum: int
    checkpoint_every: int


def run_training(
    model: Any,
    examples: list[Example],
    schedule: Schedule,
    *,
    phase: str,
    folder: Path,
    fingerprint: str,
    pad_id: int,
    ctx: Context,
) -> list[float]:
    """Train ``model``'s trainable parameters on ``examples``; returns the loss per update.

    With ``ctx.resume`` a checkpoint in ``folder`` written for the same ``fingerprint`` is
    loaded and training continues after its last update.
    """
    accelerator = ctx.accelerator()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=schedule.lr, weight_decay=0.0)
    start = _restore(model, optimizer, folder, fingerprint) if ctx.resume else 0
    if start:
        ctx.log(f"lora-gen: {phase} resumes after update {start}")
    wrapped, optimizer = accelerator.prepare(model, optimizer)
    n_micro = max(1, math.ceil(len(examples) / schedule.batch_size))
    per_epoch = math.ceil(n_micro / schedule.grad_accum)
    total = schedule.epochs * per_epoch
    rank, world = accelerator.process_index, accelerator.num_processes
    losses: list[float] = []
    bar = ctx.progress(total=total, initial=start, desc=f"lora-gen {phase}", unit="step")
    tokens, started = 0, time.perf_counter()
    wrapped.train()
    for update in range(start, total):
        epoch, position = divmod(update, per_epoch)
        order = torch.randperm(len(examples), generator=ctx.torch_generator(phase, epoch))
        micro = range(
            position * schedule.grad_accum, min((position + 1) * schedule.grad_accum, n_micro)
        )
        torch.manual_seed(derived_seed(ctx.seed, phase, "update", update))
        optimizer.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for index in micro:
            rows = order[index * schedule.batch_size : (index + 1) * schedule.batch_size]
            batch = collate([examples[i] for i in rows[rank::world].tolist()], pad_id)
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            with accelerator.autocast():
                loss = wrapped(**batch).loss / len(micro)
            accelerator.backward(loss)
            loss_sum += float(loss.detach())
            tokens += int(batch["attention_mask"].sum()) * world
        optimizer.step()
        losses.append(loss_sum)
        elapsed = max(time.perf_counter() - started, 1e-9)
        bar.set_postfix(loss=f"{loss_sum:.3f}", tok_s=f"{tokens / elapsed:,.0f}")
        bar.update(1)
        done = update + 1
        if schedule.checkpoint_every and done % schedule.checkpoint_every == 0 and done < total:
            if ctx.is_main_process:
                _save(accelerator.unwrap_model(wrapped), optimizer, folder, fingerprint, done)
            accelerator.wait_for_everyone()
    bar.close()
    wrapped.eval()
    if ctx.is_main_process:
        folder.mkdir(parents=True, exist_ok=True)
        summary = {
            "updates": total,
            "resumed_from": start,
            "tokens": tokens,
            "seconds": round(time.perf_counter() - started, 3),
            "losses": losses,
        }
        (folder / SUMMARY).write_text(json.dumps(summary))
    return losses


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors; padded label positions are ignored by the loss."""
    width = max(len(e.input_ids) for e in examples)
    label_width = max(len(e.labels) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), label_width), IGNORE, dtype=torch.long)
    for row, example in enumerate(examples):
        ids[row, : len(example.input_ids)] = torch.tensor(example.input_ids)
        mask[row, : len(example.input_ids)] = 1
        labels[row, : len(example.labels)] = torch.tensor(example.labels)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _trainable_state(model: Any) -> dict[str, torch.Tensor]:
    return {
        name: param.detach().cpu().contiguous()
        for name, param in model.named_parameters()
        if param.requires_grad
    }


def _save(model: Any, optimizer: Any, folder: Path, fingerprint: str, update: int) -> None:
    """Write the checkpoint into a fresh folder, then swap it in, so a kill at any moment
    leaves either the previous checkpoint or the new one, never half of one."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{CHECKPOINT}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    save_file(_trainable_state(model), str(staging / "weights.safetensors"))
    state = optimizer.state_dict()
    tensors = {
        f"{index}.{key}": value.detach().cpu().contiguous()
        for index, slots in state["state"].items()
        for key, value in slots.items()
        if isinstance(value, torch.Tensor)
    }
    save_file(tensors, str(staging / "optimizer.safetensors"))
    meta = {"update": update, "fingerprint": fingerprint, "param_groups": state["param_groups"]}
    (staging / STATE).write_text(json.dumps(meta))
    current, old = folder / CHECKPOINT, folder / f".{CHECKPOINT}.old"
    shutil.rmtree(old, ignore_errors=True)
    if current.exists():
        current.rename(old)
    staging.rename(current)
    shutil.rmtree(old, ignore_errors=True)


def _restore(model: Any, optimizer: Any, folder: Path, fingerprint: str) -> int:
    """Load the newest complete checkpoint for ``fingerprint``; the update it ended at."""
    for candidate in (folder / CHECKPOINT, folder / f".{CHECKPOINT}.old"):
        state_file = candidate / STATE
        if not state_file.exists():
            continue
        meta = json.loads(state_file.read_text())
        if meta.get("fingerprint") != fingerprint:
            return 0
        model.load_state_dict(load_file(str(candidate / "weights.safetensors")), strict=False)
        flat = load_file(str(candidate / "optimizer.safetensors"))
        slots: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in flat.items():
            index, name = key.split(".", 1)
            slots.setdefault(int(index), {})[name] = value
        optimizer.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})
        return int(meta["update"])
    return 0
