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

Vectors are per item, so every step would cost users x catalog. Instead the conditions are
read sparse and each batch is computed on its candidate items
(``recaug_modelkit.rows.candidate_items``): the items of its users plus ``negatives`` drawn
at random, the whole catalog when that is hardly more. PM and ZR then draw their shares from
the candidates' unpurchased items; the discriminator sees the vectors on those columns only
(where the others would be zero anyway under PM).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from recaug_modelkit.layers import ItemsIn, ItemsOut
from recaug_modelkit.rows import Candidates, SparseRows


def _xavier_uniform(weight: torch.Tensor, fan_in: int, fan_out: int, gen: torch.Generator) -> None:
    """Xavier's uniform initialisation for a layer of the given fans (the item tables hold
    a dense layer's weights transposed, or half of them)."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    nn.init.uniform_(weight, -bound, bound, generator=gen)


def _hidden_layers(size: int, layers: int, out: int, gen: torch.Generator) -> nn.Sequential:
    """ReLU, then ``layers - 1`` hidden layers of ``size`` with ReLU, then a linear ``out``
    (nothing at all when ``out`` is 0)."""
    parts: list[nn.Module] = [nn.ReLU()]
    for _ in range(layers - 1):
        linear = nn.Linear(size, size)
        _xavier_uniform(linear.weight, size, size, gen)
        nn.init.zeros_(linear.bias)
        parts += [linear, nn.ReLU()]
    if out:
        linear = nn.Linear(size, out)
        _xavier_uniform(linear.weight, size, out, gen)
        nn.init.zeros_(linear.bias)
        parts.append(linear)
    return nn.Sequential(*parts)


class Generator(nn.Module):
    """``n_items -> hidden (ReLU) [-> hidden (ReLU)]... -> n_items (sigmoid)``: the condition
    is read sparse, the output computed on a batch's candidate items."""

    def __init__(
        self,
        n_items: int,
        hidden: int,
        layers: int,
        generator: torch.Generator,
        sparse: bool = True,
    ) -> None:
        super().__init__()
        self.item_in = ItemsIn(n_items, hidden, sparse=sparse)
        self.hidden = _hidden_layers(hidden, layers, 0, generator)
        self.item_out = ItemsOut(hidden, n_items, sparse=sparse)
        _xavier_uniform(self.item_in.weight, n_items, hidden, generator)
        _xavier_uniform(self.item_out.weight, hidden, n_items, generator)

    def forward(self, condition: SparseRows, columns: Candidates | None = None) -> torch.Tensor:
        """Values in (0, 1) for ``columns`` (all items when None) of each condition row."""
        return torch.sigmoid(self.item_out(self.hidden(self.item_in(condition)), columns))


class Discriminator(nn.Module):
    """``2 x n_items -> hidden (ReLU) [-> hidden (ReLU)]... -> 1`` over (vector, condition):
    the first layer is split into the vector's half (dense over the batch's candidate items)
    and the condition's half (sparse)."""

    def __init__(
        self,
        n_items: int,
        hidden: int,
        layers: int,
        generator: torch.Generator,
        sparse: bool = True,
    ) -> None:
        super().__init__()
        self.vector_in = ItemsIn(n_items, hidden, bias=False, sparse=sparse)
        self.condition_in = ItemsIn(n_items, hidden, sparse=sparse)
        self.net = _hidden_layers(hidden, layers, 1, generator)
        for half in (self.vector_in, self.condition_in):
            _xavier_uniform(half.weight, 2 * n_items, hidden, generator)

    def forward(
        self, vector: torch.Tensor, condition: SparseRows, columns: Candidates
    ) -> torch.Tensor:
        """A logit (or a critic value for wgan-gp) per row; ``vector`` is dense over
        ``columns``, zero elsewhere."""
        first = self.vector_in.dense(vector, columns) + self.condition_in(condition)
        return self.net(first).squeeze(1)


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


@dataclass
class Batch:
    """A batch of users: their rows (the condition), the same rows dense over the batch's
    candidate items, and those items."""

    rows: SparseRows
    real: torch.Tensor
    columns: Candidates

    @property
    def column_weight(self) -> torch.Tensor | None:
        """How many catalog items each column stands for (None: the whole catalog)."""
        weight = self.columns.log_weight
        return None if weight is None else weight.exp()


def discriminator_loss(
    generator: Generator,
    discriminator: Discriminator,
    batch: Batch,
    pm: torch.Tensor,
    loss: str,
    gp_weight: float,
    alpha: torch.Tensor,
) -> torch.Tensor:
    """Loss of the discriminator on real vectors and (detached) generated ones."""
    real, rows, columns = batch.real, batch.rows, batch.columns
    with torch.no_grad():
        fake = generator(rows, columns) * (real + pm)
    real_out, fake_out = discriminator(real, rows, columns), discriminator(fake, rows, columns)
    if loss == "gan":
        return F.binary_cross_entropy_with_logits(
            real_out, torch.ones_like(real_out)
        ) + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out))
    mixed = (alpha[:, None] * real + (1 - alpha[:, None]) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(
        discriminator(mixed, rows, columns).sum(), mixed, create_graph=True
    )
    penalty = (grad.norm(2, dim=1) - 1).pow(2).mean()
    return fake_out.mean() - real_out.mean() + gp_weight * penalty


def generator_losses(
    generator: Generator,
    discriminator: Discriminator,
    batch: Batch,
    pm: torch.Tensor,
    zr: torch.Tensor,
    loss: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(adversarial term, ZR term) of the generator's loss, both differentiable. On sampled
    columns the ZR sum weighs each sampled item by the items it stands for, an unbiased
    estimate of the sum over the whole catalog."""
    output = generator(batch.rows, batch.columns)
    judged = discriminator(output * (batch.real + pm), batch.rows, batch.columns)
    if loss == "gan":  # the non-saturating form of log(1 - D(G(c)))
        adversarial = F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))
    else:
        adversarial = -judged.mean()
    penalised = output.pow(2) * zr
    weight = batch.column_weight
    if weight is not None:
        penalised = penalised * weight
    return adversarial, penalised.sum(dim=1).mean()
