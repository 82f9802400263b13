"""One training loop for both phases (pretraining the tiny base, LoRA fine-tuning), with
checkpoints that make an interrupted run continue exactly where it stopped.

Determinism is by construction rather than by saved RNG state: epoch ``e`` plans its batches
with a generator seeded from (seed, phase, e), and update ``u`` reseeds torch (dropout) from
(seed, phase, u). A checkpoint therefore only needs the trainable weights, the optimizer
state and the update counter, all stored as safetensors plus a small JSON file.

Speed, measured on Amazon Toys (19,412 users, histories of 6 items on median): a batch used to
be 32 examples padded to the longest of them, so a batch of short histories was mostly padding
and the model scored its whole vocabulary (every item) at every padded position; pretraining
took 3,642 steps of about 0.4 s. Now examples of similar length share a batch
(``epoch_batches``) of up to ``batch_tokens`` tokens, and a decoder-only model scores the
vocabulary only where a label is (``labelled_loss``): the fine-tuning prompts are not scored.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from recaug_core import Context, derived_seed
from recaug_modelkit.rows import candidates_around

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
    # Packed rows: each example's positions restart at 0; transformers then keeps attention
    # within each example (its packed-sequence mask, built when no attention mask is passed).
    positions: list[int] | None = None


Loss = Callable[[Any, dict[str, torch.Tensor]], torch.Tensor]


def forward(model: Any, batch: dict[str, torch.Tensor]) -> Any:
    """A training forward pass. Without a key/value cache: transformers only recognises
    packed rows (and keeps attention within each example) when no cache is being built."""
    return model(**batch, use_cache=False)


def model_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's own loss (its full output layer)."""
    return forward(model, batch).loss


def pack(examples: list[Example], max_length: int) -> list[Example]:
    """Decoder-only examples packed first-fit, longest first, into rows of at most
    ``max_length`` tokens: fewer rows and no padding inside them."""
    rows: list[Example] = []
    room: list[int] = []
    for example in sorted(examples, key=lambda e: -len(e.input_ids)):
        size = len(example.input_ids)
        slot = next((r for r, free in enumerate(room) if free >= size), None)
        if slot is None:
            rows.append(Example([], [], []))
            room.append(max_length)
            slot = len(rows) - 1
        row = rows[slot]
        row.input_ids += example.input_ids
        row.labels += example.labels
        row.positions += list(range(size))  # type: ignore[operator]
        room[slot] -= size
    return rows


@dataclass
class Schedule:
    epochs: int
    lr: float
    batch_tokens: int
    grad_accum: int
    checkpoint_every: int
    negatives: int = 0  # > 0: a sampled softmax over the labels and this many other tokens


POOL = 64  # batches' worth of examples sorted by length together


def epoch_batches(
    lengths: np.ndarray, batch_tokens: int, generator: torch.Generator
) -> list[np.ndarray]:
    """One epoch's batches of example indices: a random order cut into pools, each pool
    sorted by length and cut into batches of at most ``batch_tokens`` padded tokens (one
    example at least), the batches then shuffled. Examples of similar length share a batch,
    so there is little padding, and a batch of short histories holds many of them."""
    order = torch.randperm(len(lengths), generator=generator).numpy()
    typical = max(1, int(np.median(lengths))) if len(lengths) else 1
    pool_size = max(1, POOL * batch_tokens // typical)
    found: list[np.ndarray] = []
    for begin in range(0, len(order), pool_size):
        pool = order[begin : begin + pool_size]
        pool = pool[np.argsort(lengths[pool], kind="stable")]
        first = 0
        for index in range(1, len(pool) + 1):
            # ascending lengths: a batch is as wide as its last example
            if index == len(pool) or (index + 1 - first) * lengths[pool[index]] > batch_tokens:
                found.append(pool[first:index])
                first = index
    shuffled = torch.randperm(len(found), generator=generator).tolist()
    return [found[i] for i in shuffled]


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
    loss_fn: Loss | None = None,
) -> list[float]:
    """Train ``model``'s trainable parameters on ``examples``; returns the loss per update.
    ``loss_fn`` replaces the loss (the catalog-restricted one); by default it is
    ``labelled_loss`` where that gives the model's own loss, else the model's own.

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
    lengths = np.array([len(e.input_ids) for e in examples], dtype=np.int64)
    plans = [
        epoch_batches(lengths, schedule.batch_tokens, ctx.torch_generator(phase, epoch))
        for epoch in range(schedule.epochs)
    ]
    # update -> (its epoch's plan, its first micro-batch there)
    updates = [
        (plan, first) for plan in plans for first in range(0, len(plan), schedule.grad_accum)
    ]
    total = len(updates)
    rank, world = accelerator.process_index, accelerator.num_processes
    scored = labelled_loss if world == 1 and labelled_loss_applies(model) else None
    losses: list[float] = []
    bar = ctx.progress(total=total, initial=start, desc=f"lora-gen {phase}", unit="step")
    tokens, started = 0, time.perf_counter()
    wrapped.train()
    for update in range(start, total):
        plan, first = updates[update]
        micro = plan[first : first + schedule.grad_accum]
        torch.manual_seed(derived_seed(ctx.seed, phase, "update", update))
        optimizer.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for index, rows in enumerate(micro):
            chosen = [examples[i] for i in rows[rank::world].tolist()]
            batch = collate(chosen, pad_id)
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            with accelerator.autocast():
                if loss_fn is not None:
                    loss = loss_fn(wrapped, batch)
                elif scored is None:
                    loss = model_loss(wrapped, batch)
                else:
                    draws = ctx.torch_generator(phase, "negatives", update, index)
                    loss = scored(model, batch, schedule.negatives, draws)
                loss = loss / len(micro)
            accelerator.backward(loss)
            loss_sum += float(loss.detach())
            tokens += sum(len(e.input_ids) for e in chosen) * world
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


def labelled_loss_applies(model: Any) -> bool:
    """Whether ``labelled_loss`` gives ``model``'s own loss: a decoder-only model of a
    family whose output layer is a plain linear map of the last hidden state."""
    causal = _causal_lm(model)
    config = causal.config
    return not config.is_encoder_decoder and config.model_type in PLAIN_HEADS


PLAIN_HEADS = {"llama", "mistral", "qwen2", "qwen3", "gpt2"}


def _causal_lm(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def labelled_loss(
    model: Any,
    batch: dict[str, torch.Tensor],
    negatives: int = 0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The causal language-model loss (mean cross-entropy of the labelled next tokens) with
    the vocabulary scored only at the positions that predict a label, not at every
    position as the model's own forward does.

    With ``negatives``, the softmax's normaliser is a sampled estimate over the batch's
    label tokens and that many other tokens drawn uniformly (each standing for its share of
    the rest of the vocabulary, ``recaug_modelkit.rows.Candidates``): the tiny base model's
    vocabulary is the whole catalog, and scoring all of it at every label was most of its
    training time on a large catalog."""
    causal = _causal_lm(model)
    inputs = {k: v for k, v in batch.items() if k != "labels"}  # packed rows: position_ids
    hidden = causal.base_model(**inputs, use_cache=False).last_hidden_state
    targets = batch["labels"][:, 1:]  # position p predicts token p + 1
    where = targets != IGNORE
    selected, labels = hidden[:, :-1][where], targets[where]
    head = causal.get_output_embeddings()
    if negatives and generator is not None:
        columns = candidates_around(
            torch.unique(labels), head.weight.shape[0], negatives, generator
        )
        if columns.log_weight is not None:
            bias = None if head.bias is None else head.bias[columns.items]
            logits = F.linear(selected, head.weight[columns.items], bias).float()
            own = logits[torch.arange(len(labels)), columns.position(labels)]
            return (torch.logsumexp(logits + columns.log_weight, dim=1) - own).mean()
    return F.cross_entropy(head(selected).float(), labels)


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors; padded label positions are ignored by the loss. Packed rows get
    ``position_ids`` instead of an attention mask (the padding after the last example is a
    sequence of its own that no real token attends to)."""
    width = max(len(e.input_ids) for e in examples)
    label_width = max(len(e.labels) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), label_width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        size = len(example.input_ids)
        ids[row, :size] = torch.tensor(example.input_ids)
        mask[row, :size] = 1
        labels[row, : len(example.labels)] = torch.tensor(example.labels)
        if example.positions is not None:
            positions[row, :size] = torch.tensor(example.positions)
            positions[row, size:] = torch.arange(width - size)
    if any(e.positions is not None for e in examples):
        return {"input_ids": ids, "position_ids": positions, "labels": labels}
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
