"""Contrastive views for SASRec: CL4SRec (Xie et al., ICDE 2022) and DuoRec (Qiu et al.,
WSDM 2022), as an extra loss term of the training loop (``recaug_modelkit.sasrec.training``).

Both add ``weight * InfoNCE`` over two views of every sequence in a batch, each view encoded by
the same SASRec and represented by its output at the last position (the state that scores the
next item). The other 2N - 2 views of the batch are the negatives.

- ``cl4srec``: each view is the input sequence edited by one operator drawn at random among
  ``ops`` (crop, mask, reorder by default) with the operators of ``recaug_modelkit.sequence_ops``,
  the very code the `seq` strategy writes rows with.
- ``duorec``: the first view is the input sequence encoded once more (another dropout mask,
  DuoRec's model-level augmentation); the second is another training sequence with the same
  target item (its prefix up to an occurrence of that item), DuoRec's supervised positive.
  A target that occurs nowhere else falls back to the sequence itself (a second dropout view).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from recaug_modelkit import sequence_ops
from recaug_modelkit.neighbours import Neighbours, from_cooccurrence
from recaug_modelkit.sasrec.model import windows
from recaug_modelkit.sasrec.sequences import Sequences
from recaug_modelkit.sasrec.training import Batch

NEIGHBOURS = 10  # substitute / insert draw from each item's 10 most co-occurring items
NEIGHBOUR_WINDOW = 3  # ... counted at most 3 steps apart, as the `seq` strategy's defaults


def info_nce(
    a: torch.Tensor, b: torch.Tensor, temperature: float, similarity: str = "dot"
) -> torch.Tensor:
    """NT-Xent: row ``i`` of ``a`` and of ``b`` are a positive pair; each of the 2N views is
    scored against the 2N - 1 others (itself excluded), the mean cross-entropy of picking its
    partner. ``similarity`` is ``dot`` (the papers' default) or ``cosine``."""
    z = torch.cat([a, b])
    if similarity == "cosine":
        z = F.normalize(z, dim=-1)
    logits = z @ z.T / temperature
    n = len(a)
    itself = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(itself, float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, partner)


def last_state(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """The output at the last (most recent) position of right-aligned ``tokens``."""
    hidden, _ = model(tokens)
    return hidden[:, -1]


class OperatorViews:
    """CL4SRec's data-level views: each unit edited by one operator drawn from ``ops``, as
    right-aligned token windows of width ``width``."""

    def __init__(
        self,
        sequences: Sequences,
        n_items: int,
        ops: Sequence[str],
        rates: dict[str, float],
        width: int,
        rng: np.random.Generator,
    ) -> None:
        self.history = sequence_ops.History(
            sequences.items, np.zeros(len(sequences.items), dtype=np.int64)
        )
        self.ops = list(ops)
        self.rates = rates
        self.width = width
        self.rng = rng
        self.neighbours: Neighbours | None = None
        if sequence_ops.CORRELATED.intersection(self.ops):
            self.neighbours = from_cooccurrence(
                sequences.indptr, sequences.items, n_items, NEIGHBOURS, NEIGHBOUR_WINDOW
            )

    def __call__(self, first: np.ndarray, length: np.ndarray) -> np.ndarray:
        """One view of each unit ``items[first : first + length]``: tokens ``[n, width]``."""
        n = len(first)
        chosen = self.rng.integers(len(self.ops), size=n)
        parts = []
        for index, op in enumerate(self.ops):
            units = np.flatnonzero(chosen == index)
            if not len(units):
                continue
            edited = sequence_ops.apply(
                op,
                self.history,
                first[units],
                length[units],
                self.rates[op],
                self.rng,
                self.neighbours,
            )
            parts.append((units[edited.unit], edited.item))
        unit = np.concatenate([u for u, _ in parts]) if parts else np.zeros(0, np.int64)
        item = np.concatenate([i for _, i in parts]) if parts else np.zeros(0, np.int64)
        # An operator writes nothing for a unit it leaves unchanged: that view is the unit.
        untouched = np.setdiff1d(np.arange(n), unit)
        u, _, rows = sequence_ops.expand(first[untouched], length[untouched])
        unit = np.concatenate([unit, untouched[u]])
        item = np.concatenate([item, self.history.items[rows]])
        order = np.argsort(unit, kind="stable")  # units together, sequence order within
        return right_aligned(unit[order], item[order], n, self.width)


def right_aligned(unit: np.ndarray, item: np.ndarray, n: int, width: int) -> np.ndarray:
    """Tokens ``[n, width]`` (item + 1, 0 = padding) of units given as grouped, ordered
    elements; a unit longer than ``width`` keeps its last ``width`` items."""
    count = np.bincount(unit, minlength=n)
    end = np.cumsum(count)
    from_end = end[unit] - np.arange(len(unit))  # 1 for a unit's last element
    keep = from_end <= width
    tokens = np.zeros((n, width), dtype=np.int64)
    tokens[unit[keep], width - from_end[keep]] = item[keep] + 1
    return tokens


class SameTarget:
    """DuoRec's supervised positives: for an occurrence of an item in the training sequences,
    another occurrence of the same item (uniformly), whose prefix is the positive view."""

    def __init__(self, sequences: Sequences, rng: np.random.Generator) -> None:
        lengths = sequences.lengths
        owner = np.repeat(np.arange(len(lengths)), lengths)
        position = np.arange(len(sequences.items)) - sequences.indptr[owner]
        # Occurrences with a prefix (not a sequence's first item), grouped by item.
        with_prefix = np.flatnonzero(position > 0)
        self.by_item = with_prefix[np.argsort(sequences.items[with_prefix], kind="stable")]
        grouped = sequences.items[self.by_item]
        n_items = int(sequences.items.max()) + 1 if len(sequences.items) else 0
        self.group_start = np.searchsorted(grouped, np.arange(n_items))
        self.group_size = np.bincount(grouped, minlength=n_items)
        self.rank = np.empty(len(sequences.items), dtype=np.int64)
        self.rank[self.by_item] = np.arange(len(self.by_item)) - self.group_start[grouped]
        self.sequence_start = sequences.indptr[owner]
        self.items = sequences.items
        self.rng = rng

    def positives(self, target: np.ndarray) -> np.ndarray:
        """For each flat index ``target`` (an occurrence with a prefix), the flat index of
        another occurrence of its item, or ``target`` itself if there is none."""
        item = self.items[target]
        others = self.group_size[item] - 1
        draw = (self.rng.random(len(target)) * np.maximum(others, 1)).astype(np.int64)
        draw += draw >= self.rank[target]  # skip the occurrence itself
        chosen = self.by_item[self.group_start[item] + np.minimum(draw, self.group_size[item] - 1)]
        return np.where(others > 0, chosen, target)

    def prefixes(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(first flat index, length) of the items before each occurrence ``target``."""
        start = self.sequence_start[target]
        return start, target - start


class ContrastiveViews:
    """The extra loss of ``views=cl4srec`` or ``views=duorec`` (see the module docstring)."""

    def __init__(
        self,
        kind: str,
        sequences: Sequences,
        n_items: int,
        *,
        weight: float,
        temperature: float,
        similarity: str,
        width: int,
        ops: Sequence[str],
        rates: dict[str, float],
        rng: np.random.Generator,
        device: torch.device,
    ) -> None:
        self.kind, self.weight, self.width = kind, weight, width
        self.temperature, self.similarity = temperature, similarity
        self.flat = torch.as_tensor(sequences.items + 1, dtype=torch.long, device=device)
        if kind == "cl4srec":
            self.operator_views = OperatorViews(sequences, n_items, ops, rates, width, rng)
        else:
            self.same_target = SameTarget(sequences, rng)

    def __call__(self, batch: Batch) -> torch.Tensor:
        device = batch.inputs.device
        if self.kind == "cl4srec":
            a = torch.as_tensor(self.operator_views(batch.first, batch.length), device=device)
            b = torch.as_tensor(self.operator_views(batch.first, batch.length), device=device)
            left, right = last_state(batch.model, a), last_state(batch.model, b)
        else:
            positive = self.same_target.positives(batch.first + batch.length)
            start, length = self.same_target.prefixes(positive)
            tokens = windows(
                self.flat,
                torch.as_tensor(start, device=device),
                torch.as_tensor(length, device=device),
                self.width,
            )
            left = last_state(batch.model, batch.inputs)
            right = last_state(batch.model, tokens)
        return self.weight * info_nce(left, right, self.temperature, self.similarity)
