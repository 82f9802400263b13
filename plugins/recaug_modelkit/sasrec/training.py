"""Training SASRec through Accelerate, with early stopping on validation NDCG@10.

Each epoch visits every training sequence once (one window of at most ``max_len + 1`` items
per user) and puts a loss on every position: the output at position t predicts item t + 1.
That is the original SASRec recipe, far cheaper than training on every prefix separately.

A caller adds a term to the loss (contrastive views, for instance) with ``extra_loss``: it
gets each step's ``Batch`` and returns a scalar tensor to add.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from recaug_core import Context, RankingTask, ranking_means
from recaug_modelkit.early_stopping import EarlyStopping
from recaug_modelkit.sasrec.model import PAD, SASRec, save_model, windows
from recaug_modelkit.sasrec.options import SasrecModelOptions
from recaug_modelkit.sasrec.sequences import Sequences

VALID_K = 10
SCORE_BATCH = 1024


class HistoryScorer:
    """Scores every item as the next one after each user's history (last ``max_len`` items)."""

    def __init__(self, model: SASRec, accelerator: Any, histories: Sequences, max_len: int) -> None:
        self.model = model
        self.accelerator = accelerator
        self.histories = histories
        self.max_len = max_len
        device = accelerator.device
        self.flat = torch.as_tensor(histories.items + 1, dtype=torch.long, device=device)

    def __call__(self, users: np.ndarray) -> np.ndarray:
        device = self.accelerator.device
        starts, lengths = self.histories.rows(np.asarray(users, dtype=np.int64))
        out = np.empty((len(starts), self.model.config["n_items"]), dtype=np.float32)
        self.model.eval()
        with torch.no_grad(), self.accelerator.autocast():
            for begin in range(0, len(starts), SCORE_BATCH):
                end = begin + SCORE_BATCH
                rows = windows(
                    self.flat,
                    torch.as_tensor(starts[begin:end], device=device),
                    torch.as_tensor(lengths[begin:end], device=device),
                    self.max_len,
                )
                out[begin:end] = self.model.score_last(rows).float().cpu().numpy()
        return out


@dataclass(frozen=True)
class Batch:
    """One training step's sequences, for an ``extra_loss``.

    ``inputs`` are right-aligned windows (tokens: item index + 1, 0 = padding) and ``hidden``
    the model's output on them (training mode). Row ``r``'s input items are
    ``items[first[r] : first[r] + length[r]]`` of the flat training sequences, and the item
    after them (its last target) is ``items[first[r] + length[r]]``.
    """

    model: Any
    inputs: torch.Tensor
    hidden: torch.Tensor
    first: np.ndarray
    length: np.ndarray


ExtraLoss = Callable[[Batch], torch.Tensor]


@dataclass
class FittedSasrec:
    """A trained model and where its weights were saved."""

    model: SASRec
    accelerator: Any
    folder: Path | None
    best_epoch: int
    valid_ndcg: float | None

    def scorer(self, histories: Sequences) -> HistoryScorer:
        return HistoryScorer(self.model, self.accelerator, histories, self.model.config["max_len"])


def fit_sasrec(
    options: SasrecModelOptions,
    *,
    n_items: int,
    sequences: Sequences,
    trainable: np.ndarray,
    validation: RankingTask | None,
    valid_histories: Sequences,
    text_vectors: np.ndarray | None,
    item_ids: list[str],
    ctx: Context,
    name: str = "sasrec",
    extra_loss: ExtraLoss | None = None,
    text_mode: str = "add",
    weights: np.ndarray | None = None,
    init: SASRec | None = None,
) -> FittedSasrec:
    """Train SASRec on ``sequences[trainable]``; ``name`` labels the progress bar, the log and
    the checkpoint folder. ``weights`` (aligned with ``sequences.items``) multiply the loss of
    predicting each item (a merge policy's); ``init`` continues from a model trained before."""
    from accelerate.utils import set_seed

    set_seed(ctx.seed)  # model initialisation and dropout draw from torch's global generator
    accelerator = ctx.accelerator()
    device = accelerator.device
    model = init or SASRec(
        n_items=n_items,
        max_len=options.max_len,
        hidden=options.hidden,
        layers=options.layers,
        heads=options.heads,
        dropout=options.dropout,
        inner=options.inner,
        text_dim=0 if text_vectors is None else text_vectors.shape[1],
        text_mode=text_mode,
    )
    if text_vectors is not None and init is None:
        model.set_text_vectors(
            torch.from_numpy(text_vectors), ctx.torch_generator("sasrec", "text-init")
        )
    optimizer = torch.optim.Adam(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    plain = accelerator.unwrap_model(model)

    flat = torch.as_tensor(sequences.items + 1, dtype=torch.long, device=device)
    flat_weights = None if weights is None else torch.as_tensor(weights, device=device)
    starts = torch.as_tensor(sequences.starts[trainable], device=device)
    lengths = torch.as_tensor(sequences.lengths[trainable], device=device)
    # a later phase draws its own batches: the first keeps the keys of a plain fit
    generator = ctx.torch_generator("sasrec", "batches", *([name] if init is not None else []))
    validation_scorer = HistoryScorer(plain, accelerator, valid_histories, options.max_len)

    stopping = EarlyStopping(
        ctx,
        name,
        options.epochs,
        options.patience,
        validate=None
        if validation is None
        else lambda: _validation_ndcg(validation, validation_scorer),
        keep=plain,
    )
    for epoch in stopping:
        model.train()
        figures = _train_epoch(
            model,
            optimizer,
            accelerator,
            options,
            flat,
            starts,
            lengths,
            n_items,
            generator,
            extra_loss,
            flat_weights,
        )
        stopping.record(epoch, **figures)
    stopping.finish()
    plain.eval()
    best_epoch, best_ndcg = stopping.best_epoch, stopping.best_value
    if best_ndcg is not None:
        ctx.log(
            f"{name}: best validation NDCG@{VALID_K} {best_ndcg:.4f} at epoch {best_epoch} "
            f"(stopped after {stopping.epochs_run})"
        )
    folder = None
    if ctx.is_main_process:
        folder = ctx.checkpoint_dir(name)
        save_model(
            plain,
            folder,
            {
                "options": options.model_dump(mode="json"),
                "best_epoch": best_epoch,
                "epochs_run": stopping.epochs_run,
                f"valid_ndcg@{VALID_K}": best_ndcg,
                "item_ids": item_ids,
            },
        )
    return FittedSasrec(
        model=plain,
        accelerator=accelerator,
        folder=folder,
        best_epoch=best_epoch,
        valid_ndcg=best_ndcg,
    )


def _train_epoch(
    model: Any,
    optimizer: Any,
    accelerator: Any,
    options: Any,
    flat: torch.Tensor,
    starts: torch.Tensor,
    lengths: torch.Tensor,
    n_items: int,
    generator: torch.Generator,
    extra_loss: ExtraLoss | None,
    flat_weights: torch.Tensor | None = None,
) -> dict[str, float]:
    """One pass over the training sequences (sharded across processes); the mean loss (and
    the mean extra term, if any). ``flat_weights`` weigh each position's loss by its target's
    row weight."""
    device = flat.device
    width = options.max_len + 1
    order = torch.randperm(len(starts), generator=generator)
    order = order[accelerator.process_index :: accelerator.num_processes].to(device)
    total, extra_total, steps = 0.0, 0.0, 0
    for begin in range(0, len(order), options.batch_size):
        rows = order[begin : begin + options.batch_size]
        n = lengths[rows]
        offsets = None
        if options.window == "random":
            room = (n - n.clamp(max=width) + 1).cpu()
            offsets = (torch.rand(len(rows), generator=generator) * room).long().to(device)
        window = windows(flat, starts[rows], n, width, offsets)
        inputs, targets = window[:, :-1], window[:, 1:]
        scored = (inputs != PAD) & (targets != PAD)
        hidden, table = model(inputs)
        outputs, wanted = hidden[scored], targets[scored]
        if options.loss == "ce":
            terms = F.cross_entropy(outputs @ table[1:].T, wanted - 1, reduction="none")
        else:
            negatives = torch.randint(
                1, n_items + 1, (len(wanted), options.negatives), generator=generator
            ).to(device)
            positive = (outputs * table[wanted]).sum(-1)
            negative = torch.einsum("nd,nkd->nk", outputs, table[negatives])
            terms = F.softplus(-positive) + F.softplus(negative).mean(-1)
        if flat_weights is not None:
            weights = windows(flat_weights, starts[rows], n, width, offsets)[:, 1:]
            terms = terms * weights[scored]
        loss = terms.mean()
        if extra_loss is not None:
            first = (starts[rows] + (n - n.clamp(max=width) if offsets is None else offsets)).cpu()
            batch = Batch(
                model, inputs, hidden, first.numpy(), (n.clamp(max=width) - 1).cpu().numpy()
            )
            extra = extra_loss(batch)
            extra_total += float(extra.detach())
            loss = loss + extra
        optimizer.zero_grad()
        accelerator.backward(loss)
        optimizer.step()
        total += float(loss.detach())
        steps += 1
    figures = {"loss": total / max(steps, 1)}
    if extra_loss is not None:
        figures["extra"] = extra_total / max(steps, 1)
    return figures


def _validation_ndcg(task: RankingTask, scorer: HistoryScorer) -> float:
    """NDCG@10 of the validation items, ranked exactly as the final evaluation ranks (all
    items, real training items masked), from each user's real training history."""
    ranking = task.rank(scorer, VALID_K)
    return ranking_means(ranking, task.n_items, [VALID_K])[f"ndcg@{VALID_K}"]
