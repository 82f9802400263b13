"""Fitting CFGAN: user batches of the sparse matrix (sparse conditions, vectors on the batch's
candidate items), alternating discriminator and generator updates through Accelerate,
optional early stopping on a validation ranking, an epoch checkpoint after every epoch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from recaug_core import Context, RankingTask, ranking_means, torch_generator
from recaug_gan.model import (
    Batch,
    Discriminator,
    Generator,
    discriminator_loss,
    generator_losses,
    negative_masks,
)
from recaug_gan.options import GanTrainingOptions
from recaug_modelkit.checkpoints import EpochCheckpoints, resume_training, save_epoch
from recaug_modelkit.early_stopping import VALID_METRIC, EarlyStopping
from recaug_modelkit.optim import optimizers
from recaug_modelkit.rows import batches, candidate_items, sparse_rows


@dataclass
class FittedGan:
    generator: Generator  # on the CPU, in eval mode
    epochs_run: int
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def build(
    n_items: int, options: GanTrainingOptions, seed: int, sparse: bool = True
) -> tuple[Generator, Discriminator]:
    init = torch_generator(seed, "gan", "init")
    return (
        Generator(n_items, options.hidden_g, options.layers, init, sparse=sparse),
        Discriminator(n_items, options.hidden_d, options.layers, init, sparse=sparse),
    )


def step_flops(matrix: sp.csr_matrix, options: GanTrainingOptions) -> float:
    """Rough floating-point operations of one batch (the generator's output layer and the
    discriminator's vector half, forward and backward): what the default thread count is
    chosen by."""
    n_users, n_items = matrix.shape
    own = options.batch_size * matrix.nnz / max(n_users, 1)
    columns = n_items if options.negatives == 0 else min(n_items, own + options.negatives)
    per_user = 8 * options.hidden_g + 16 * options.hidden_d * options.d_steps
    return float(options.batch_size * columns * per_user)


def fit_gan(
    matrix: sp.csr_matrix,
    options: GanTrainingOptions,
    ctx: Context,
    seed: int,
    *,
    task: RankingTask | None = None,
    patience: int = 0,
    checkpoints: EpochCheckpoints | None = None,
) -> FittedGan:
    """Train on every non-empty row of ``matrix`` (users x items, binary CSR); with ``task``,
    validate the generator after every epoch, stop after ``patience`` epochs without a
    better NDCG@10 and keep the best epoch's generator."""
    accelerator = ctx.accelerator()
    device, rank, world = accelerator.device, accelerator.process_index, accelerator.num_processes
    gen_net, disc_net = build(matrix.shape[1], options, seed, sparse=world == 1)
    # WGAN-GP's usual Adam settings; the original CFGAN used Adam's defaults.
    betas = (0.5, 0.9) if options.loss == "wgan-gp" else (0.9, 0.999)
    g_opts = optimizers(gen_net, options.lr, betas=betas)
    d_opts = optimizers(disc_net, options.lr, betas=betas)
    modules = {"generator": gen_net, "discriminator": disc_net}
    steppers = {
        **{f"g_{k}": v for k, v in g_opts.items()},
        **{f"d_{k}": v for k, v in d_opts.items()},
    }
    resumed = resume_training(checkpoints, ctx, "gan", modules, steppers, options.epochs)
    g_model, d_model, *prepared = accelerator.prepare(gen_net, disc_net, *steppers.values())
    g_steps = prepared[: len(g_opts)]
    d_steps = prepared[len(g_opts) :]
    users = torch.from_numpy(np.flatnonzero(np.diff(matrix.indptr)).astype(np.int64))

    loop = EarlyStopping(
        ctx,
        "gan",
        options.epochs,
        patience,
        validate=None if task is None else lambda: validation_ndcg(gen_net, matrix, task, device),
        keep=gen_net,
        start=resumed.epoch,
        history=resumed.history,
        best_weights=resumed.best_weights,
    )
    for epoch in loop:
        gen = torch_generator(seed, "gan", "epoch", epoch)
        totals, n_batches = np.zeros(3), 0
        order = users[torch.randperm(len(users), generator=gen)]
        for chunk in batches(order, options.batch_size, rank, world):
            rows = sparse_rows(matrix, chunk)
            columns = candidate_items(rows, options.negatives, gen)
            batch = Batch(rows.to(device), rows.dense(columns).to(device), columns.to(device))
            shape = (2, *batch.real.shape)
            for _ in range(options.d_steps):
                pm, _zr = negative_masks(
                    batch.real, options.pm_ratio, 0.0, torch.rand(shape, generator=gen).to(device)
                )
                alpha = torch.rand(len(chunk), generator=gen).to(device)
                d_loss = discriminator_loss(
                    g_model, d_model, batch, pm, options.loss, options.gp_weight, alpha
                )
                _zero(d_steps)
                accelerator.backward(d_loss)
                _step(d_steps)
            for _ in range(options.g_steps):
                pm, zr = negative_masks(
                    batch.real,
                    options.pm_ratio,
                    options.zr_ratio,
                    torch.rand(shape, generator=gen).to(device),
                )
                adversarial, reconstruction = generator_losses(
                    g_model, d_model, batch, pm, zr, options.loss
                )
                _zero(g_steps)
                accelerator.backward(adversarial + options.zr_weight * reconstruction)
                _step(g_steps)
            # the discriminator's gradients from the generator's step are never used
            _zero(d_steps)
            totals += [
                float(d_loss.detach()),
                float(adversarial.detach()),
                float(reconstruction.detach()),
            ]
            n_batches += 1
        d_mean, g_adv, zr_mean = (totals / max(n_batches, 1)).tolist()
        loop.record(epoch, d_loss=d_mean, g_adv=g_adv, zr=zr_mean)
        save_epoch(checkpoints, ctx, epoch, modules, steppers, loop)
    loop.finish()
    return FittedGan(gen_net.cpu().eval(), loop.epochs_run, loop.best_epoch, loop.history)


def _zero(steppers: list[Any]) -> None:
    for optimizer in steppers:
        optimizer.zero_grad(set_to_none=True)


def _step(steppers: list[Any]) -> None:
    for optimizer in steppers:
        optimizer.step()


@torch.no_grad()
def outputs(
    generator: Generator, matrix: sp.csr_matrix, users: np.ndarray, device: Any
) -> np.ndarray:
    """The generator's values over the whole catalog for ``users``' training rows."""
    generator.eval()
    values = generator(sparse_rows(matrix, users).to(device))
    generator.train()
    return values.float().cpu().numpy()


def validation_ndcg(
    generator: Generator, matrix: sp.csr_matrix, task: RankingTask, device: Any
) -> float:
    """NDCG@10 of the held-out items when every user's unseen items are ranked by the
    generator's output (CFGAN's own use as a recommender)."""
    ranking = task.rank(lambda rows: outputs(generator, matrix, rows, device), 10)
    return ranking_means(ranking, task.n_items, [10])[VALID_METRIC]
