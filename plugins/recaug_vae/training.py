"""Fitting Mult-VAE: user batches of the sparse matrix (sparse input rows, outputs on the
batch's candidate items), fused Adam through Accelerate, beta annealing, optional early
stopping on a validation ranking, optional epoch checkpoints."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from recaug_core import Context, RankingTask, ranking_means, torch_generator
from recaug_modelkit.checkpoints import EpochCheckpoints, resume_training, save_epoch
from recaug_modelkit.early_stopping import VALID_METRIC, EarlyStopping
from recaug_modelkit.optim import optimizers
from recaug_modelkit.rows import batches, candidate_items, sparse_rows
from recaug_vae.model import MultVAE
from recaug_vae.options import VaeTrainingOptions


@dataclass
class FittedVae:
    model: MultVAE  # on the CPU, in eval mode
    epochs_run: int
    best_epoch: int
    best_valid: float | None
    history: list[dict[str, float]] = field(default_factory=list)


def build(n_items: int, options: VaeTrainingOptions, seed: int, sparse: bool = True) -> MultVAE:
    return MultVAE(
        n_items,
        options.hidden,
        options.latent,
        torch_generator(seed, "vae", "init"),
        composite=options.prior == "composite",
        sparse=sparse,
    )


def step_flops(matrix: sp.csr_matrix, options: VaeTrainingOptions) -> float:
    """Rough floating-point operations of one training step (forward and backward of the
    decoder's output layer, which dominates): what the default thread count is chosen by."""
    n_users, n_items = matrix.shape
    own = options.batch_size * matrix.nnz / max(n_users, 1)
    columns = n_items if options.negatives == 0 else min(n_items, own + options.negatives)
    return 6.0 * options.batch_size * options.hidden * columns


def fit_vae(
    matrix: sp.csr_matrix,
    options: VaeTrainingOptions,
    ctx: Context,
    seed: int,
    *,
    task: RankingTask | None = None,
    patience: int = 0,
    checkpoints: EpochCheckpoints | None = None,
    init: MultVAE | None = None,
    phase: str = "",
) -> FittedVae:
    """Train on every non-empty row of ``matrix`` (users x items CSR; 1 per item, or a merge
    policy's weight, which scales the item's share of the input and of the loss); with ``task``,
    validate after every epoch, stop after ``patience`` epochs without a better NDCG@10 and
    keep the best epoch's weights. ``init`` continues from a model trained before (a later
    training ``phase``)."""
    accelerator = ctx.accelerator()
    device, rank, world = accelerator.device, accelerator.process_index, accelerator.num_processes
    model = init or build(matrix.shape[1], options, seed, sparse=world == 1)
    modules = {"model": model}
    steppers = optimizers(model, options.lr, weight_decay=options.weight_decay)
    resumed = resume_training(checkpoints, ctx, "vae", modules, steppers, options.epochs)
    wrapped, *prepared = accelerator.prepare(model, *steppers.values())
    users = torch.from_numpy(np.flatnonzero(np.diff(matrix.indptr)).astype(np.int64))
    steps_per_epoch = math.ceil(len(users) / options.batch_size)

    stopping = EarlyStopping(
        ctx,
        f"vae ({phase})" if phase else "vae",
        options.epochs,
        patience,
        validate=None if task is None else lambda: validation_ndcg(model, matrix, task, device),
        keep=model,
        start=resumed.epoch,
        history=resumed.history,
        best_weights=resumed.best_weights,
    )
    beta = 0.0
    for epoch in stopping:
        gen = torch_generator(seed, "vae", "epoch", epoch, *([phase] if phase else []))
        model.refresh_prior()
        wrapped.train()
        step = (epoch - 1) * steps_per_epoch
        totals = np.zeros(3)
        order = users[torch.randperm(len(users), generator=gen)]
        for batch in batches(order, options.batch_size, rank, world):
            rows = sparse_rows(matrix, batch)
            columns = candidate_items(rows, options.negatives, gen)
            keep = (torch.rand(len(rows.items), generator=gen) >= options.dropout).float()
            keep /= 1.0 - options.dropout
            noise = torch.randn(len(rows), options.latent, generator=gen)
            step += 1
            beta = options.beta_max * min(1.0, step / max(options.anneal_steps, 1))
            with accelerator.autocast():
                loss, nll, kl = wrapped(
                    rows.to(device), beta, keep.to(device), noise.to(device), columns.to(device)
                )
            for optimizer in prepared:
                optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            for optimizer in prepared:
                optimizer.step()
            totals += [float(loss.detach()), float(nll.detach()), float(kl.detach())]
        loss, nll, kl = (totals / steps_per_epoch).tolist()
        stopping.record(epoch, beta=beta, loss=loss, nll=nll, kl=kl)
        save_epoch(checkpoints, ctx, epoch, modules, steppers, stopping)
    stopping.finish()
    model.cpu().eval()
    return FittedVae(
        model,
        epochs_run=stopping.epochs_run,
        best_epoch=stopping.best_epoch,
        best_valid=stopping.best_value,
        history=stopping.history,
    )


def log_probabilities(
    model: MultVAE, matrix: sp.csr_matrix, users: np.ndarray, device: Any = "cpu"
) -> np.ndarray:
    """Log decoder probabilities at the posterior mean, from each user's training row."""
    out: np.ndarray = log_probability_tensor(model, matrix, users, device).cpu().numpy()
    return out


@torch.no_grad()
def log_probability_tensor(
    model: MultVAE, matrix: sp.csr_matrix, users: np.ndarray, device: Any = "cpu"
) -> torch.Tensor:
    model.eval()
    mu, _ = model.encode(sparse_rows(matrix, users).to(device))
    return torch.log_softmax(model.decode(mu), dim=1).float()


def validation_ndcg(model: MultVAE, matrix: sp.csr_matrix, task: RankingTask, device: Any) -> float:
    """NDCG@10 on the validation users, ranked exactly as the final evaluation ranks (the
    scores stay a tensor: ``RankingTask.rank`` takes their top 10 with ``torch.topk``)."""
    ranking = task.rank(lambda rows: log_probability_tensor(model, matrix, rows, device), 10)
    return ranking_means(ranking, task.n_items, [10])[VALID_METRIC]
