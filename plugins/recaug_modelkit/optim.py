"""The optimisers of the bundled generators: fused Adam, and a lazy Adam for item tables.

A model's item tables (``recaug_modelkit.layers`` with ``sparse=True``) get sparse gradients
that hold only the rows a batch touched; ``LazyAdam`` updates those rows and no others.
Everything else is updated by ``torch.optim.Adam`` with its fused kernel, one pass over each
parameter per step instead of a dozen (a 37M-parameter Mult-VAE step on the CPU: 0.19 s
with the default kernel, 0.022 s fused).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, cast

import torch
from torch import nn

from recaug_modelkit.layers import ItemsOut

ADAM, LAZY_ADAM = "adam", "lazy_adam"


class LazyAdam(torch.optim.Optimizer):
    """Adam for parameters with sparse row gradients: each step updates the moments and
    weights of the rows the gradient holds with ``torch.optim.Adam``'s formulas (L2
    ``weight_decay`` added to those rows' gradients, as Adam adds it); other rows keep
    theirs. ``torch.optim.SparseAdam`` does the same (without weight decay) through
    ``sparse_mask`` and sparse additions; one ``index_select`` and one ``index_copy_`` per
    state tensor here made a step of an 18,357 x 1,000 table with 2,700 rows touched about
    twice as fast (90 ms -> 45 ms on one CPU thread).
    """

    def __init__(
        self,
        params: Iterable[nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None if closure is None else closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                rows, grad = _rows(param.grad)
                if group["weight_decay"]:
                    grad = grad + group["weight_decay"] * param.index_select(0, rows)
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                exp_avg = state["exp_avg"].index_select(0, rows).lerp_(grad, 1 - beta1)
                exp_avg_sq = state["exp_avg_sq"].index_select(0, rows)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                state["exp_avg"].index_copy_(0, rows, exp_avg)
                state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
                step = state["step"]
                denominator = exp_avg_sq.sqrt_().div_(math.sqrt(1 - beta2**step))
                denominator.add_(group["eps"])
                size = group["lr"] / (1 - beta1**step)
                param.index_add_(0, rows, exp_avg.div_(denominator), alpha=-size)
        return loss


def _rows(grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(row indices, their gradient rows), each row once; a dense gradient is every row."""
    if not grad.is_sparse:
        return torch.arange(len(grad), device=grad.device), grad
    grad = grad.coalesce()  # a row looked up twice in the batch appears twice until summed
    return grad.indices()[0], grad.values()


def sparse_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of ``model`` whose gradients are sparse."""
    found: list[nn.Parameter] = []
    for module in model.modules():
        if isinstance(module, nn.Embedding | nn.EmbeddingBag) and module.sparse:
            found.append(cast(nn.Parameter, module.weight))
        elif isinstance(module, ItemsOut):
            found.extend(module.sparse_parameters())
    return found


def optimizers(model: nn.Module, lr: float, **settings: Any) -> dict[str, torch.optim.Optimizer]:
    """``{"adam": fused Adam}`` for the dense parameters, plus ``{"lazy_adam": ...}`` for
    the item tables when there are any; the names key the optimiser state in checkpoints.
    ``settings`` (``betas``, ``weight_decay``) go to both."""
    sparse = {id(p) for p in sparse_parameters(model)}
    trained = [p for p in model.parameters() if p.requires_grad]
    dense = [p for p in trained if id(p) not in sparse]
    chosen: dict[str, torch.optim.Optimizer] = {
        ADAM: torch.optim.Adam(dense, lr=lr, fused=True, **settings)
    }
    tables = [p for p in trained if id(p) in sparse]
    if tables:
        chosen[LAZY_ADAM] = LazyAdam(tables, lr=lr, **settings)
    return chosen
