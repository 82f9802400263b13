"""Uniform negative sampling for a whole batch at once (no Python loop per sample).

Negatives are drawn uniformly over the catalog, then the few that hit one of the user's own
training items are redrawn, a bounded number of rounds over the clashing slots only. A user
who has (nearly) every item may keep a clash: the loss of that pair is then near zero.
"""

from __future__ import annotations

import numpy as np
import torch

from recaug_core import arrays

RESAMPLE_ROUNDS = 10
DENSE_MASK_LIMIT = 1 << 27  # user x item flags up to 128 MiB; beyond, binary search


class NegativeSampler:
    def __init__(self, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> None:
        self.n_items = n_items
        keys = arrays.unique(users.astype(np.int64) * n_items + items)
        if n_users * n_items <= DENSE_MASK_LIMIT:
            mask = np.zeros(n_users * n_items, dtype=bool)
            mask[keys] = True
            self._mask: torch.Tensor | None = torch.from_numpy(mask)
        else:
            self._mask = None
        self._keys = torch.from_numpy(keys)

    def is_positive(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        keys = users * self.n_items + items
        if self._mask is not None:
            return torch.take(self._mask, keys)
        where = torch.searchsorted(self._keys, keys).clamp_(max=len(self._keys) - 1)
        return torch.take(self._keys, where) == keys

    def sample(self, users: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        """``[len(users), k]`` item indices, none of them (almost surely) the user's own."""
        negatives = torch.randint(0, self.n_items, (len(users), k), generator=generator)
        flat = negatives.view(-1)
        # Each round re-checks only the slots that clashed last round: after the first pass
        # that is a few percent of the batch, not all of it.
        slots = torch.nonzero(self.is_positive(users[:, None], negatives).view(-1)).squeeze(1)
        for _ in range(RESAMPLE_ROUNDS):
            if len(slots) == 0:
                break
            flat[slots] = torch.randint(0, self.n_items, (len(slots),), generator=generator)
            slots = slots[self.is_positive(users[slots // k], flat[slots])]
        return negatives
