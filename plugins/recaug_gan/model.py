"""CFGAN (Chae et al., "CFGAN: A Generic Collaborative Filtering Framework based on Generative
Adversarial Networks", CIKM 2018).

The generator maps a user's real purchase vector c_u (the condition) to a vector r_u of
values in (0, 1), one per item. The discriminator sees a vector together with the condition
and tells real (e_u, c_u) from generated pairs. Two schemes keep the generator from the
trivial answer "1 everywhere":

- PM (partial masking): the generated vector is shown to the discriminator only on the
  purchased items plus a random ``pm_ratio`` share of the unpurchased ones, where the real
  vector is 0 — so 1s there give the fake away;
- ZR (zero reconstruction): ``zr_weight`` times the squared output on a random ``zr_ratio``
  share of unpurchased items is added to the generator's loss.

Both terms are torch tensors in one graph: the adversarial gradient reaches the generator
(a widely used port computes the GAN loss outside the graph, so only its ZR term trains).
``loss=wgan-gp`` uses a Wasserstein critic with gradient penalty instead of the original
cross-entropy GAN loss.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn


def _mlp(sizes: list[int], generator: torch.Generator) -> nn.Sequential:
    layers: list[nn.Module] = []
    for position, (inp, out) in enumerate(itertools.pairwise(sizes)):
        linear = nn.Linear(inp, out)
        nn.init.xavier_uniform_(linear.weight, generator=generator)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if position < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Generator(nn.Module):
    def __init__(self, n_items: int, hidden: int, layers: int, generator: torch.Generator):
        super().__init__()
        self.net = _mlp([n_items] + [hidden] * layers + [n_items], generator)

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(condition))


class Discriminator(nn.Module):
    def __init__(self, n_items: int, hidden: int, layers: int, generator: torch.Generator):
        super().__init__()
        self.net = _mlp([2 * n_items] + [hidden] * layers + [1], generator)

    def forward(self, vector: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """A logit (or a critic value for wgan-gp) per row."""
        return self.net(torch.cat([vector, condition], dim=1)).squeeze(1)


def negative_masks(
    real: torch.Tensor, pm_ratio: float, zr_ratio: float, draws: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """PM and ZR masks: random shares of each user's unpurchased items. ``draws`` holds two
    uniform tensors shaped like ``real`` (from the caller's seeded generator)."""
    unpurchased = real == 0
    return (
        ((draws[0] < pm_ratio) & unpurchased).float(),
        ((draws[1] < zr_ratio) & unpurchased).float(),
    )


def discriminator_loss(
    generator: Generator,
    discriminator: Discriminator,
    real: torch.Tensor,
    pm: torch.Tensor,
    loss: str,
    gp_weight: float,
    alpha: torch.Tensor,
) -> torch.Tensor:
    """Loss of the discriminator on real vectors and (detached) generated ones."""
    with torch.no_grad():
        fake = generator(real) * (real + pm)
    real_out, fake_out = discriminator(real, real), discriminator(fake, real)
    if loss == "gan":
        return F.binary_cross_entropy_with_logits(
            real_out, torch.ones_like(real_out)
        ) + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out))
    mixed = (alpha[:, None] * real + (1 - alpha[:, None]) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(mixed, real).sum(), mixed, create_graph=True)
    penalty = (grad.norm(2, dim=1) - 1).pow(2).mean()
    return fake_out.mean() - real_out.mean() + gp_weight * penalty


def generator_losses(
    generator: Generator,
    discriminator: Discriminator,
    real: torch.Tensor,
    pm: torch.Tensor,
    zr: torch.Tensor,
    loss: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(adversarial term, ZR term) of the generator's loss, both differentiable."""
    output = generator(real)
    judged = discriminator(output * (real + pm), real)
    if loss == "gan":  # the non-saturating form of log(1 - D(G(c)))
        adversarial = F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))
    else:
        adversarial = -judged.mean()
    reconstruction = (output.pow(2) * zr).sum(dim=1).mean()
    return adversarial, reconstruction
