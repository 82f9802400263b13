"""Fitting Mult-VAE: user batches of the sparse matrix, Adam through Accelerate, beta
annealing, optional early stopping on validation NDCG@10, optional epoch checkpoints."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from recaug_core import Context, RankingTask, ranking_means, torch_generator
from recaug_modelkit.checkpoints import EpochCheckpoints, resume_training, training_tensors
from recaug_modelkit.early_stopping import VALID_METRIC, EarlyStopping
from recaug_modelkit.rows import batches, dense_rows
from recaug_vae.model import MultVAE
from recaug_vae.options import VaeTrainingOptions


@dataclass
class FittedVae:
    model: MultVAE  # on the CPU, in eval mode
    epochs_run: int
    best_epoch: int
    best_valid: float | None
    history: list[dict[str, float]] = field(default_factory=list)


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
    policy's weight, which scales the item's share of the input and of the loss). ``init``
    continues from a model trained before (a later training ``phase``)."""
    model = init or MultVAE(
        matrix.shape[1],
        options.hidden,
        options.latent,
        torch_generator(seed, "vae", "init"),
        composite=options.prior == "composite",
    )
    optimizer = torch.optim.Adam(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    start, history = resume_training(
        checkpoints, ctx, "vae", {"model": model}, {"adam": optimizer}, options.epochs
    )
    accelerator = ctx.accelerator()
    wrapped, prepared = accelerator.prepare(model, optimizer)
    device, rank, world = accelerator.device, accelerator.process_index, accelerator.num_processes
    users = torch.from_numpy(np.flatnonzero(np.diff(matrix.indptr)).astype(np.int64))
    steps_per_epoch = math.ceil(len(users) / options.batch_size)

    stopping = EarlyStopping(
        ctx,
        f"vae ({phase})" if phase else "vae",
        options.epochs,
        patience,
        validate=None if task is None else lambda: validation_ndcg(model, matrix, task, device),
        keep=model,
        start=start,
        history=history,
    )
    beta = 0.0
    for epoch in stopping:
        gen = torch_generator(seed, "vae", "epoch", epoch, *([phase] if phase else []))
        model.refresh_prior()
        wrapped.train()
        step = (epoch - 1) * steps_per_epoch
        totals = np.zeros(3)
        order = users[torch.randperm(len(users), generator=gen)]
        for rows in batches(order, options.batch_size, rank, world):
            x = dense_rows(matrix, rows)
            keep = (torch.rand(x.shape, generator=gen) >= options.dropout).float()
            keep /= 1.0 - options.dropout
            noise = torch.randn(len(rows), options.latent, generator=gen)
            step += 1
            beta = options.beta_max * min(1.0, step / max(options.anneal_steps, 1))
            with accelerator.autocast():
                loss, nll, kl = wrapped(x.to(device), beta, keep.to(device), noise.to(device))
            prepared.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            prepared.step()
            totals += [float(loss.detach()), float(nll.detach()), float(kl.detach())]
        loss, nll, kl = (totals / steps_per_epoch).tolist()
        stopping.record(epoch, beta=beta, loss=loss, nll=nll, kl=kl)
        if checkpoints is not None and ctx.is_main_process:
            tensors, state = training_tensors({"model": model}, {"adam": optimizer})
            checkpoints.save(epoch, tensors, {**state, "history": stopping.history})
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
    x = dense_rows(matrix, users).to(device)
    mu, _ = model.encode(x)
    return torch.log_softmax(model.decode(mu), dim=1).float()


def validation_ndcg(model: MultVAE, matrix: sp.csr_matrix, task: RankingTask, device: Any) -> float:
    """NDCG@10 on the validation split, ranked exactly as the final evaluation ranks (the
    scores stay a tensor: ``RankingTask.rank`` takes their top 10 with ``torch.topk``)."""
    ranking = task.rank(lambda rows: log_probability_tensor(model, matrix, rows, device), 10)
    return ranking_means(ranking, task.n_items, [10])[VALID_METRIC]
