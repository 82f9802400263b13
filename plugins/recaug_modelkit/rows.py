"""User rows of the sparse training matrix as dense torch batches.

The whole user x item matrix is never densified: only a batch of users at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch


def dense_rows(matrix: sp.csr_matrix, users: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Rows ``users`` of ``matrix`` as a dense float32 tensor [len(users), n_items]."""
    index = users.numpy() if isinstance(users, torch.Tensor) else np.asarray(users)
    return torch.from_numpy(np.asarray(matrix[index].toarray(), dtype=np.float32))


def batches(
    order: torch.Tensor, batch_size: int, rank: int = 0, world: int = 1
) -> Iterator[torch.Tensor]:
    """Consecutive slices of ``order``; under several processes each takes its share."""
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size][rank::world]
        if len(rows):
            yield rows
