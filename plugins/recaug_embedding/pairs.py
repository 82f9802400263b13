"""Scores of a batch's sampled (user, item) pairs as sparse products, forward and backward.

A batch of B positives with k negatives each needs B * (1 + k) entries of the user x item
score matrix, a few percent of it. Those entries form a sparse pattern: the forward pass is
one sampled dense-dense product over that pattern (SDDMM) and the backward pass is two
sparse-dense products, one per side. A step so costs O(B * k * dim) rather than a dense
users x catalog product, and autograd never traces a gather or an accumulating scatter (both
slow on CPU). A pair drawn twice in a batch is one entry of the pattern whose gradient is
the sum of both draws': the pattern is a valid CSR matrix (sorted, distinct columns per row),
the form every sparse backend, CPU or GPU, accepts.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

# Devices whose torch build has the sparse CSR kernels used here; Apple's "mps" does not yet
# (pytorch/pytorch#196192), so there the pair vectors are gathered instead.
SPARSE_DEVICES = frozenset({"cpu", "cuda"})


def pair_scores(
    user_vectors: torch.Tensor,
    item_vectors: torch.Tensor,
    users: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of (user, positive) [B] and (user, negative) [B, k] pairs, in float32."""
    items = torch.cat([positives[:, None], negatives], dim=1)
    if user_vectors.device.type in SPARSE_DEVICES:
        owners = users[:, None].expand_as(items).reshape(-1)
        flat = _SampledScores.apply(user_vectors, item_vectors, owners, items.reshape(-1))
        scores = flat.view(items.shape)
    else:  # the same scores from gathered vectors
        chosen = user_vectors[users].float()
        scores = torch.einsum("bd,bkd->bk", chosen, item_vectors[items].float())
    return scores[:, 0], scores[:, 1:]


def _csr(
    rows: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]
) -> torch.Tensor:
    """A CSR matrix from distinct entries sorted by (row, column)."""
    offsets = torch.zeros(shape[0] + 1, dtype=torch.int64, device=rows.device)
    torch.cumsum(torch.bincount(rows, minlength=shape[0]), 0, out=offsets[1:])
    with warnings.catch_warnings():  # "CSR support is in beta": nothing a user can act on
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(offsets, columns, values, shape, check_invariants=False)


class _SampledScores(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        user_vectors: torch.Tensor,
        item_vectors: torch.Tensor,
        users: torch.Tensor,
        items: torch.Tensor,
    ) -> torch.Tensor:
        n_users, n_items = user_vectors.shape[0], item_vectors.shape[0]
        keys, draw_entry = torch.unique(users * n_items + items, return_inverse=True)
        rows, columns = keys // n_items, keys % n_items
        # Sparse kernels want one dtype; under autocast the two sides may differ.
        left, right = user_vectors.float(), item_vectors.float()
        pattern = _csr(rows, columns, left.new_zeros(len(keys)), (n_users, n_items))
        entry_scores = torch.sparse.sampled_addmm(pattern, left, right.T, beta=0.0).values()
        ctx.save_for_backward(left, right, rows, columns, draw_entry)
        ctx.dtypes = user_vectors.dtype, item_vectors.dtype
        return entry_scores.index_select(0, draw_entry)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        left, right, rows, columns, draw_entry = ctx.saved_tensors
        n_users, n_items = left.shape[0], right.shape[0]
        entry_grad = left.new_zeros(len(rows)).index_add_(0, draw_entry, grad.float())
        user_grad = item_grad = None
        if ctx.needs_input_grad[0]:
            pattern = _csr(rows, columns, entry_grad, (n_users, n_items))
            user_grad = torch.sparse.mm(pattern, right).to(ctx.dtypes[0])
        if ctx.needs_input_grad[1]:
            by_item = torch.argsort(columns, stable=True)  # (item, user) order: sorted CSR
            pattern = _csr(
                columns.index_select(0, by_item),
                rows.index_select(0, by_item),
                entry_grad.index_select(0, by_item),
                (n_items, n_users),
            )
            item_grad = torch.sparse.mm(pattern, left).to(ctx.dtypes[1])
        return user_grad, item_grad, None, None
