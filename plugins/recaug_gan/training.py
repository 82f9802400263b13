"""Fitting CFGAN: user batches of the sparse matrix, alternating discriminator and generator
updates through Accelerate, an epoch checkpoint after every epoch."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from recaug_core import Context, torch_generator
from recaug_gan.model import (
    Discriminator,
    Generator,
    discriminator_loss,
    generator_losses,
    negative_masks,
)
from recaug_gan.options import GanTrainingOptions
from recaug_modelkit.checkpoints import EpochCheckpoints, resume_training, training_tensors
from recaug_modelkit.early_stopping import EarlyStopping
from recaug_modelkit.rows import batches, dense_rows


@dataclass
class FittedGan:
    generator: Generator  # on the CPU, in eval mode
    history: list[dict[str, float]] = field(default_factory=list)


def build(n_items: int, options: GanTrainingOptions, seed: int) -> tuple[Generator, Discriminator]:
    init = torch_generator(seed, "gan", "init")
    return (
        Generator(n_items, options.hidden_g, options.layers, init),
        Discriminator(n_items, options.hidden_d, options.layers, init),
    )


def fit_gan(
    matrix: sp.csr_matrix,
    options: GanTrainingOptions,
    ctx: Context,
    seed: int,
    checkpoints: EpochCheckpoints | None = None,
) -> FittedGan:
    """Train on every non-empty row of ``matrix`` (users x items, binary CSR)."""
    gen_net, disc_net = build(matrix.shape[1], options, seed)
    # WGAN-GP's usual Adam settings; the original CFGAN used Adam's defaults.
    betas = (0.5, 0.9) if options.loss == "wgan-gp" else (0.9, 0.999)
    g_opt = torch.optim.Adam(gen_net.parameters(), lr=options.lr, betas=betas)
    d_opt = torch.optim.Adam(disc_net.parameters(), lr=options.lr, betas=betas)
    modules = {"generator": gen_net, "discriminator": disc_net}
    optimizers = {"g_adam": g_opt, "d_adam": d_opt}
    start, history = resume_training(checkpoints, ctx, "gan", modules, optimizers, options.epochs)
    accelerator = ctx.accelerator()
    g_model, d_model, g_step, d_step = accelerator.prepare(gen_net, disc_net, g_opt, d_opt)
    device, rank, world = accelerator.device, accelerator.process_index, accelerator.num_processes
    users = torch.from_numpy(np.flatnonzero(np.diff(matrix.indptr)).astype(np.int64))

    loop = EarlyStopping(ctx, "gan", options.epochs, start=start, history=history)
    for epoch in loop:
        gen = torch_generator(seed, "gan", "epoch", epoch)
        totals, n_batches = np.zeros(3), 0
        order = users[torch.randperm(len(users), generator=gen)]
        for rows in batches(order, options.batch_size, rank, world):
            real = dense_rows(matrix, rows).to(device)
            for _ in range(options.d_steps):
                pm, _zr = negative_masks(
                    real,
                    options.pm_ratio,
                    0.0,
                    torch.rand((2, *real.shape), generator=gen).to(device),
                )
                alpha = torch.rand(len(rows), generator=gen).to(device)
                d_loss = discriminator_loss(
                    g_model, d_model, real, pm, options.loss, options.gp_weight, alpha
                )
                d_step.zero_grad(set_to_none=True)
                accelerator.backward(d_loss)
                d_step.step()
            for _ in range(options.g_steps):
                pm, zr = negative_masks(
                    real,
                    options.pm_ratio,
                    options.zr_ratio,
                    torch.rand((2, *real.shape), generator=gen).to(device),
                )
                adversarial, reconstruction = generator_losses(
                    g_model, d_model, real, pm, zr, options.loss
                )
                g_step.zero_grad(set_to_none=True)
                accelerator.backward(adversarial + options.zr_weight * reconstruction)
                g_step.step()
            # the discriminator's gradients from the generator's step are never used
            d_step.zero_grad(set_to_none=True)
            totals += [
                float(d_loss.detach()),
                float(adversarial.detach()),
                float(reconstruction.detach()),
            ]
            n_batches += 1
        d_mean, g_adv, zr = (totals / max(n_batches, 1)).tolist()
        loop.record(epoch, d_loss=d_mean, g_adv=g_adv, zr=zr)
        if checkpoints is not None and ctx.is_main_process:
            tensors, state = training_tensors(modules, optimizers)
            checkpoints.save(epoch, tensors, {**state, "history": loop.history})
    loop.finish()
    return FittedGan(gen_net.cpu().eval(), loop.history)
