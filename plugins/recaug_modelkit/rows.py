"""User rows of the sparse training matrix, one batch of users at a time.

The user x item matrix is never made dense, and neither is a batch of it over the whole
catalog when the catalog is large: a model reads a batch's rows sparse (``SparseRows``, an
embedding bag over each row's items) and computes its per-item outputs on the batch's
``candidate_items`` only, the items of its users plus a uniform sample of the others (the
whole catalog when that is hardly more). On an 18,000-item catalog a batch of 128 users
touches about 3,000 columns instead of 18,000.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


def dense_rows(matrix: sp.csr_matrix, users: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Rows ``users`` of ``matrix`` as a dense float32 tensor [len(users), n_items]."""
    index = users.numpy() if isinstance(users, torch.Tensor) else np.asarray(users)
    return torch.from_numpy(np.asarray(matrix[index].toarray(), dtype=np.float32))


@dataclass(frozen=True)
class SparseRows:
    """A batch of rows of a CSR matrix in ``torch.nn.functional.embedding_bag`` form."""

    items: torch.Tensor  # int64 [nnz]: every row's items, row after row
    values: torch.Tensor  # float32 [nnz]: their values (1.0 in a binary matrix)
    offsets: torch.Tensor  # int64 [n]: where each row starts in ``items``
    n_items: int

    def __len__(self) -> int:
        return len(self.offsets)

    def to(self, device: torch.device | str) -> SparseRows:
        return SparseRows(
            self.items.to(device), self.values.to(device), self.offsets.to(device), self.n_items
        )

    @property
    def lengths(self) -> torch.Tensor:
        end = torch.tensor([len(self.items)], device=self.offsets.device)
        return torch.cat([self.offsets[1:], end]) - self.offsets

    @property
    def rows(self) -> torch.Tensor:
        """The batch row of every entry."""
        return torch.repeat_interleave(
            torch.arange(len(self), device=self.offsets.device), self.lengths
        )

    def normalized_values(self) -> torch.Tensor:
        """``values`` divided by their row's L2 norm (an empty row stays empty)."""
        squares = self.values.new_zeros(len(self)).index_add_(0, self.rows, self.values.square())
        return self.values * squares.clamp_min(1e-12).rsqrt()[self.rows]

    def keep(self, mask: torch.Tensor) -> SparseRows:
        """Only the entries where ``mask`` (one bool per entry) is true."""
        counts = self.offsets.new_zeros(len(self)).index_add_(0, self.rows, mask.to(torch.int64))
        offsets = torch.cumsum(counts, 0) - counts
        return SparseRows(self.items[mask], self.values[mask], offsets, self.n_items)

    def dense(self, columns: Candidates | None = None) -> torch.Tensor:
        """The rows as a dense tensor over ``columns`` (all items when None), which must
        hold every item of the batch."""
        width = self.n_items if columns is None else len(columns.items)
        out = self.values.new_zeros(len(self), width)
        where = self.items if columns is None else columns.position(self.items)
        out[self.rows, where] = self.values
        return out


def sparse_rows(matrix: sp.csr_matrix, users: np.ndarray | torch.Tensor) -> SparseRows:
    """Rows ``users`` of ``matrix`` without densifying anything."""
    index = users.numpy() if isinstance(users, torch.Tensor) else np.asarray(users)
    starts, ends = matrix.indptr[index], matrix.indptr[index + 1]
    lengths = (ends - starts).astype(np.int64)
    offsets = np.cumsum(lengths) - lengths
    entries = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    return SparseRows(
        torch.from_numpy(matrix.indices[entries].astype(np.int64)),
        torch.from_numpy(matrix.data[entries].astype(np.float32)),
        torch.from_numpy(offsets),
        matrix.shape[1],
    )


@dataclass(frozen=True)
class Candidates:
    """The items (columns) a batch's outputs are computed on, in increasing order.

    ``log_weight`` is None when they are the whole catalog; otherwise it says, per column,
    how many catalog items the column stands for (log): 0 for the batch's own items, and
    log((n_items - own) / sampled) for each uniformly sampled other item, so that
    ``logsumexp(logits + log_weight)`` estimates the log partition function over the whole
    catalog without bias in its sum (sampled softmax with a uniform proposal).
    """

    items: torch.Tensor
    log_weight: torch.Tensor | None

    @property
    def whole_catalog(self) -> bool:
        return self.log_weight is None

    def to(self, device: torch.device | str) -> Candidates:
        weight = None if self.log_weight is None else self.log_weight.to(device)
        return Candidates(self.items.to(device), weight)

    def position(self, items: torch.Tensor) -> torch.Tensor:
        """The column of each of ``items`` (which must be among the candidates)."""
        return items if self.whole_catalog else torch.searchsorted(self.items, items)


def candidate_items(rows: SparseRows, negatives: int, generator: torch.Generator) -> Candidates:
    """The batch's own items plus ``negatives`` others drawn uniformly without replacement;
    the whole catalog when ``negatives`` is 0 or the sample would cover half of it."""
    return candidates_around(torch.unique(rows.items), rows.n_items, negatives, generator)


def candidates_around(
    own: torch.Tensor, n: int, negatives: int, generator: torch.Generator
) -> Candidates:
    """``own`` (distinct ids below ``n``) plus ``negatives`` other ids drawn uniformly without
    replacement, with their log weights (``Candidates``); all ``n`` ids when ``negatives`` is
    0 or the candidates would be half of them or more."""
    if negatives == 0 or len(own) + negatives >= n // 2:
        return Candidates(torch.arange(n, device=own.device), None)
    taken = torch.zeros(n, dtype=torch.bool)
    taken[own.cpu()] = True
    # Draw a little more than needed from the whole catalog and drop the batch's own items:
    # one permutation of a few thousand draws instead of one of the catalog.
    draws = torch.randint(n, (2 * negatives + 64,), generator=generator)
    others = draws[~taken[draws]]
    others = others[_first_occurrences(others)][:negatives].to(own.device)
    items, order = torch.sort(torch.cat([own, others]))
    weight = torch.zeros(len(items), device=own.device)
    weight[len(own) :] = float(np.log((n - len(own)) / max(len(others), 1)))
    return Candidates(items, weight[order])


def _first_occurrences(values: torch.Tensor) -> torch.Tensor:
    """Positions of the first occurrence of each value, in order of appearance."""
    unique, inverse = torch.unique(values, return_inverse=True)
    first = torch.full((len(unique),), len(values), dtype=torch.int64)
    first.scatter_reduce_(0, inverse, torch.arange(len(values)), reduce="amin")
    return torch.sort(first).values


def batches(
    order: torch.Tensor, batch_size: int, rank: int = 0, world: int = 1
) -> Iterator[torch.Tensor]:
    """Consecutive slices of ``order``; under several processes each takes its share."""
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size][rank::world]
        if len(rows):
            yield rows
