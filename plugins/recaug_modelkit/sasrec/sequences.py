"""CSR item sequences (numpy, no torch): what SASRec trains on, validates on and scores from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sequences:
    """CSR sequences: row ``u`` is ``items[indptr[u]:indptr[u + 1]]`` (item indices, in order)."""

    indptr: np.ndarray
    items: np.ndarray

    @property
    def starts(self) -> np.ndarray:
        return self.indptr[:-1]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def rows(self, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(starts, lengths) of the rows ``which``."""
        return self.starts[which], self.lengths[which]
