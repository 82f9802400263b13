"""Training SASRec through Accelerate, with early stopping on validation NDCG@10.

Each epoch visits every training sequence once (one window of at most ``max_len + 1`` items
per user) and puts a loss on every position: the output at position t predicts item t + 1.
That is the original SASRec recipe, far cheaper than training on every prefix separately.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from recaug_core.runtime import RunContext
from recaug_sasrec.histories import Sequences, Validation
from recaug_sasrec.model import PAD, SASRec, ndcg_of_targets, save_model, windows

VALID_K = 10
SCORE_BATCH = 1024


@dataclass
class FittedSasrec:
    """A trained model, ready to score right-aligned histories."""

    model: SASRec
    accelerator: Any
    max_len: int
    folder: Path | None
    best_epoch: int
    valid_ndcg: float | None

    def score(self, items: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        device = self.accelerator.device
        flat = torch.as_tensor(items + 1, dtype=torch.long, device=device)
        out = np.empty((len(starts), self.model.config["n_items"]), dtype=np.float32)
        self.model.eval()
        with torch.no_grad(), self.accelerator.autocast():
            for begin in range(0, len(starts), SCORE_BATCH):
                end = begin + SCORE_BATCH
                rows = windows(
                    flat,
                    torch.as_tensor(starts[begin:end], device=device),
                    torch.as_tensor(lengths[begin:end], device=device),
                    self.max_len,
                )
                out[begin:end] = self.model.score_last(rows).float().cpu().numpy()
        return out


def fit_sasrec(
    options: Any,
    *,
    n_items: int,
    sequences: Sequences,
    trainable: np.ndarray,
    validation: Validation | None,
    valid_histories: Sequences,
    text_vectors: np.ndarray | None,
    item_ids: list[str],
    ctx: RunContext,
) -> FittedSasrec:
    from accelerate.utils import set_seed

    set_seed(ctx.seed)  # model initialisation and dropout draw from torch's global generator
    accelerator = ctx.accelerator()
    device = accelerator.device
    model = SASRec(
        n_items=n_items,
        max_len=options.max_len,
        hidden=options.hidden,
        layers=options.layers,
        heads=options.heads,
        dropout=options.dropout,
        inner=options.inner,
        text_dim=0 if text_vectors is None else text_vectors.shape[1],
        text_mode=options.text_mode,
    )
    if text_vectors is not None:
        model.set_text_vectors(
            torch.from_numpy(text_vectors), ctx.torch_generator("sasrec", "text-init")
        )
    optimizer = torch.optim.Adam(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    plain = accelerator.unwrap_model(model)

    flat = torch.as_tensor(sequences.items + 1, dtype=torch.long, device=device)
    starts = torch.as_tensor(sequences.starts[trainable], device=device)
    lengths = torch.as_tensor(sequences.lengths[trainable], device=device)
    generator = ctx.torch_generator("sasrec", "batches")
    validator = _Validator(validation, valid_histories, options.max_len, accelerator)

    best_ndcg, best_epoch, best_state, waited = -1.0, 0, None, 0
    bar = ctx.progress(total=options.epochs, desc="sasrec")
    epoch = 0
    for epoch in range(1, options.epochs + 1):
        model.train()
        loss = _train_epoch(
            model, optimizer, accelerator, options, flat, starts, lengths, n_items, generator
        )
        postfix: dict[str, str] = {"loss": f"{loss:.4f}"}
        if validator.enabled:
            ndcg = validator.ndcg(plain)
            postfix[f"ndcg@{VALID_K}"] = f"{ndcg:.4f}"
            if ndcg > best_ndcg:
                best_ndcg, best_epoch, waited = ndcg, epoch, 0
                best_state = copy.deepcopy(plain.state_dict())
            else:
                waited += 1
        bar.set_postfix(postfix)
        bar.update(1)
        if validator.enabled and waited >= options.patience:
            break
    bar.close()
    if best_state is not None:
        plain.load_state_dict(best_state)
    else:
        best_epoch = epoch
    plain.eval()
    if validator.enabled:
        ctx.log(
            f"sasrec: best validation NDCG@{VALID_K} {best_ndcg:.4f} at epoch {best_epoch} "
            f"(stopped after {epoch})"
        )
    folder = None
    if ctx.is_main_process:
        folder = ctx.checkpoint_dir("sasrec")
        save_model(
            plain,
            folder,
            {
                "options": options.model_dump(mode="json"),
                "best_epoch": best_epoch,
                "epochs_run": epoch,
                f"valid_ndcg@{VALID_K}": best_ndcg if validator.enabled else None,
                "item_ids": item_ids,
            },
        )
    return FittedSasrec(
        model=plain,
        accelerator=accelerator,
        max_len=options.max_len,
        folder=folder,
        best_epoch=best_epoch,
        valid_ndcg=best_ndcg if validator.enabled else None,
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
) -> float:
    """One pass over the training sequences (sharded across processes); the mean loss."""
    device = flat.device
    width = options.max_len + 1
    order = torch.randperm(len(starts), generator=generator)
    order = order[accelerator.process_index :: accelerator.num_processes].to(device)
    total, steps = 0.0, 0
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
            loss = F.cross_entropy(outputs @ table[1:].T, wanted - 1)
        else:
            negatives = torch.randint(
                1, n_items + 1, (len(wanted), options.negatives), generator=generator
            ).to(device)
            positive = (outputs * table[wanted]).sum(-1)
            negative = torch.einsum("nd,nkd->nk", outputs, table[negatives])
            loss = (F.softplus(-positive) + F.softplus(negative).mean(-1)).mean()
        optimizer.zero_grad()
        accelerator.backward(loss)
        optimizer.step()
        total += float(loss.detach())
        steps += 1
    return total / max(steps, 1)


class _Validator:
    """NDCG@10 of the validation items, ranked over all items with real training items masked
    (the same protocol as the final test, one step earlier in time)."""

    def __init__(
        self,
        validation: Validation | None,
        histories: Sequences,
        max_len: int,
        accelerator: Any,
    ) -> None:
        self.enabled = validation is not None
        if validation is None:
            return
        self.accelerator = accelerator
        device = accelerator.device
        self.flat = torch.as_tensor(histories.items + 1, dtype=torch.long, device=device)
        starts, lengths = histories.rows(validation.users)
        self.starts = torch.as_tensor(starts, device=device)
        self.lengths = torch.as_tensor(lengths, device=device)
        self.targets = torch.as_tensor(validation.items, device=device)
        self.max_len = max_len
        # (row, item) of every real training item of each validation user, except the target
        known = validation.known[validation.users].tocoo()
        keep = known.col != validation.items[known.row]
        self.mask_rows = torch.as_tensor(known.row[keep], dtype=torch.long, device=device)
        self.mask_cols = torch.as_tensor(known.col[keep], dtype=torch.long, device=device)

    def ndcg(self, model: SASRec) -> float:
        model.eval()
        total = 0.0
        with torch.no_grad(), self.accelerator.autocast():
            for begin in range(0, len(self.starts), SCORE_BATCH):
                end = min(begin + SCORE_BATCH, len(self.starts))
                rows = windows(
                    self.flat, self.starts[begin:end], self.lengths[begin:end], self.max_len
                )
                scores = model.score_last(rows).float()
                in_batch = (self.mask_rows >= begin) & (self.mask_rows < end)
                scores[self.mask_rows[in_batch] - begin, self.mask_cols[in_batch]] = -torch.inf
                total += float(ndcg_of_targets(scores, self.targets[begin:end], VALID_K).sum())
        return total / len(self.starts)
