"""The LightGCN propagation operator: one normalised adjacency, applied as one sparse product.

``A = D^-1/2 [[0, R], [R^T, 0]] D^-1/2`` over users then items. ``A`` is symmetric, so the
gradient of ``A @ x`` is ``A @ grad``: the backward pass reuses the very same sparse product
instead of letting autograd trace generic sparse ops (slow on CPU). On CPU the product runs
in scipy (several times faster than torch's CPU sparse kernels); on an accelerator it runs as
a torch sparse CSR tensor kept on that device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from recaug_core import RecaugError
from recaug_embedding.pairs import SPARSE_DEVICES


def normalized_adjacency(interactions: sp.csr_matrix) -> sp.csr_matrix:
    """Symmetric-normalised bipartite adjacency of a binary user x item matrix (float32)."""
    n_users, n_items = interactions.shape
    graph = sp.bmat([[None, interactions], [interactions.T, None]], format="csr")
    degree = np.asarray(graph.sum(axis=1)).ravel()
    scale = np.zeros_like(degree, dtype=np.float64)
    np.divide(1.0, np.sqrt(degree), out=scale, where=degree > 0)  # isolated nodes stay 0
    diagonal = sp.diags(scale)
    normalised = (diagonal @ graph @ diagonal).tocsr().astype(np.float32)
    normalised.sort_indices()
    assert normalised.shape == (n_users + n_items, n_users + n_items)
    return normalised


class Propagator:
    """Applies the normalised adjacency to dense node features on any device."""

    def __init__(self, adjacency: sp.csr_matrix) -> None:
        self.adjacency = adjacency
        self._on_device: dict[torch.device, torch.Tensor] = {}

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return _SymmetricSparseProduct.apply(x, self)

    def product(self, x: torch.Tensor) -> torch.Tensor:
        """``A @ x`` in float32, without autograd."""
        x = x.detach().float()
        if x.device.type == "cpu":
            return torch.from_numpy(np.asarray(self.adjacency @ x.contiguous().numpy()))
        return torch.sparse.mm(self._tensor(x.device), x)

    def _tensor(self, device: torch.device) -> torch.Tensor:
        if device.type not in SPARSE_DEVICES:
            raise RecaugError(
                f"LightGCN needs sparse CSR kernels, which torch does not have on '{device.type}'"
                " yet: set ACCELERATE_USE_CPU=1 to train it on the CPU, or use -o model=bpr"
            )
        if device not in self._on_device:
            a = self.adjacency
            self._on_device[device] = torch.sparse_csr_tensor(
                torch.from_numpy(a.indptr.astype(np.int64)),
                torch.from_numpy(a.indices.astype(np.int64)),
                torch.from_numpy(a.data),
                size=a.shape,
                device=device,
            )
        return self._on_device[device]


class _SymmetricSparseProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, propagator: Propagator) -> torch.Tensor:
        ctx.propagator = propagator
        return propagator.product(x).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return ctx.propagator.product(grad).to(grad.dtype), None
