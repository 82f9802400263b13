"""Linear layers whose input or output side is the item catalog, computed sparsely.

``ItemsIn`` is ``nn.Linear(n_items, size)`` for sparse rows: an embedding bag sums the weight
rows of a user's few items instead of multiplying a mostly-zero row with the whole matrix.
``ItemsOut`` is ``nn.Linear(size, n_items)`` that computes only the columns a batch needs
(``recaug_modelkit.rows.candidate_items``). With the whole catalog as columns both compute
what ``nn.Linear`` computes; their weights are initialised like it too (Xavier, with the same
fan-in and fan-out).

With ``sparse=True`` their weights get sparse gradients, holding only the rows a batch
touched: a dense gradient of an 18,000 x 1,000 table is 73 MB to allocate, zero and update
at every step, where the batch touched a few thousand rows (``recaug_modelkit.optim`` updates
such tables with ``SparseAdam``). Several processes (``accelerate launch``) need dense
gradients, which NCCL can reduce.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recaug_modelkit.rows import Candidates, SparseRows


class ItemsIn(nn.Module):
    """A linear layer from the catalog to ``size`` units, one weight row per item."""

    def __init__(self, n_items: int, size: int, *, bias: bool = True, sparse: bool = True):
        super().__init__()
        self.bag = nn.EmbeddingBag(n_items, size, mode="sum", sparse=sparse)
        self.bias = nn.Parameter(torch.zeros(size)) if bias else None

    @property
    def weight(self) -> torch.Tensor:
        return self.bag.weight

    def forward(self, rows: SparseRows, weights: torch.Tensor | None = None) -> torch.Tensor:
        """``rows`` (entry weights ``weights``, default their values) times the layer."""
        weights = rows.values if weights is None else weights
        out = self.bag(rows.items, rows.offsets, per_sample_weights=weights)
        return out if self.bias is None else out + self.bias

    def dense(self, x: torch.Tensor, columns: Candidates) -> torch.Tensor:
        """``x``, dense over ``columns`` of the catalog, times the layer."""
        weight = F.embedding(columns.items, self.weight, sparse=self.bag.sparse)
        out = x @ weight
        return out if self.bias is None else out + self.bias


class ItemsOut(nn.Module):
    """A linear layer from ``size`` units to the catalog, or to some columns of it."""

    def __init__(self, size: int, n_items: int, *, sparse: bool = True) -> None:
        super().__init__()
        self.sparse = sparse
        self.weight = nn.Parameter(torch.empty(n_items, size))
        self.bias = nn.Parameter(torch.zeros(n_items, 1))  # a column: rows gather like weights

    def forward(self, x: torch.Tensor, columns: Candidates | None = None) -> torch.Tensor:
        """Outputs on ``columns`` (all items when None: for scoring, not for training)."""
        if columns is None:
            return F.linear(x, self.weight, self.bias[:, 0])
        weight = F.embedding(columns.items, self.weight, sparse=self.sparse)
        bias = F.embedding(columns.items, self.bias, sparse=self.sparse)
        return F.linear(x, weight, bias[:, 0])

    def sparse_parameters(self) -> list[nn.Parameter]:
        return [self.weight, self.bias] if self.sparse else []
