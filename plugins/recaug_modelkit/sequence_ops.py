"""The sequence operators, vectorised over every augmented sequence at once.

An operator works on *units*: slices ``[start, start + length)`` of flat, time-ordered arrays
(one unit per augmented copy of a user's history). It never loops over users or items in
Python: positions come from segment arithmetic, random choices from per-element random keys
ranked within their unit by one ``lexsort``.

Each operator returns ``Edited``: the output elements of the units it changed, in sequence
order. An element is either a copy of history row ``source`` (maybe with another item) or a
new row (``source == -1``), with the timestamp it should carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from recaug_modelkit.neighbours import Neighbours

Operator = Literal["crop", "mask", "reorder", "substitute", "insert"]
OPERATORS: tuple[Operator, ...] = ("crop", "mask", "reorder", "substitute", "insert")
CORRELATED: frozenset[str] = frozenset({"substitute", "insert"})  # need item neighbours


@dataclass(frozen=True)
class History:
    """Flat arrays of the histories being augmented (time order within each user)."""

    items: np.ndarray  # int64 item index
    times: np.ndarray  # int64 seconds (0 where unknown)


@dataclass(frozen=True)
class Edited:
    """Output elements, grouped by unit and in sequence order within a unit."""

    unit: np.ndarray  # which unit (index into the units passed in)
    source: np.ndarray  # history row copied, -1 for a new row
    item: np.ndarray
    time: np.ndarray
    new: np.ndarray  # True where the item is not the copied row's own (inserted/substituted)
    score: np.ndarray  # neighbour similarity of new items, NaN for copies

    def __len__(self) -> int:
        return len(self.unit)

    def select(self, keep: np.ndarray) -> Edited:
        return Edited(
            self.unit[keep],
            self.source[keep],
            self.item[keep],
            self.time[keep],
            self.new[keep],
            self.score[keep],
        )


def expand(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit, offset within the unit, history row) of every element of the units."""
    unit = np.repeat(np.arange(len(lengths)), lengths)
    first = np.cumsum(lengths) - lengths
    offset = np.arange(int(lengths.sum())) - first[unit]
    return unit, offset, starts[unit] + offset


def rank_within(unit: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Rank (0 = smallest ``key``) of every element among the elements of its unit."""
    order = np.lexsort((key, unit))
    counts = np.bincount(unit, minlength=unit.max() + 1 if len(unit) else 0)
    first = np.cumsum(counts) - counts
    rank = np.empty(len(unit), dtype=np.int64)
    rank[order] = np.arange(len(unit)) - first[unit[order]]
    return rank


def _copies(
    history: History, unit: np.ndarray, rows: np.ndarray, keep: np.ndarray | None = None
) -> Edited:
    if keep is not None:
        unit, rows = unit[keep], rows[keep]
    n = len(unit)
    return Edited(
        unit,
        rows,
        history.items[rows],
        history.times[rows],
        np.zeros(n, dtype=bool),
        np.full(n, np.nan, dtype=np.float32),
    )


def _count(rate: float, lengths: np.ndarray) -> np.ndarray:
    """floor(rate * length), at least 1: how many positions an operator touches."""
    return np.maximum(1, np.floor(rate * lengths)).astype(np.int64)


def crop(
    history: History,
    starts: np.ndarray,
    lengths: np.ndarray,
    rate: float,
    rng: np.random.Generator,
) -> Edited:
    """A random contiguous sub-sequence of floor(rate * length) items (at least 1)."""
    span = np.minimum(_count(rate, lengths), lengths)
    begin = (rng.random(len(lengths)) * (lengths - span + 1)).astype(np.int64)
    unit, offset, rows = expand(starts, lengths)
    inside = (offset >= begin[unit]) & (offset < begin[unit] + span[unit])
    changed = span < lengths
    return _copies(history, unit, rows, inside & changed[unit])


def mask(
    history: History,
    starts: np.ndarray,
    lengths: np.ndarray,
    rate: float,
    rng: np.random.Generator,
) -> Edited:
    """Drop floor(rate * length) random items (at least 1; at least 1 item stays)."""
    dropped = _count(rate, lengths)
    unit, _, rows = expand(starts, lengths)
    rank = rank_within(unit, rng.random(len(unit)))
    changed = dropped < lengths
    return _copies(history, unit, rows, (rank >= dropped[unit]) & changed[unit])


def reorder(
    history: History,
    starts: np.ndarray,
    lengths: np.ndarray,
    rate: float,
    rng: np.random.Generator,
) -> Edited:
    """Shuffle the items of a random contiguous sub-sequence of floor(rate * length) items
    (at least 2; a shuffle that changes nothing is not written).

    Timestamps stay with the positions, so the shuffled sequence is still in time order."""
    span = np.floor(rate * lengths).astype(np.int64)
    changed = span >= 2
    begin = (rng.random(len(lengths)) * (lengths - span + 1)).astype(np.int64)
    unit, offset, rows = expand(starts, lengths)
    inside = np.flatnonzero((offset >= begin[unit]) & (offset < begin[unit] + span[unit]))
    shuffled = inside[np.lexsort((rng.random(len(inside)), unit[inside]))]
    item_rows = rows.copy()
    item_rows[inside] = rows[shuffled]
    # A shuffle may give back the same order (likely for short runs): such a copy is no
    # augmentation, so it is not written.
    moved = np.bincount(unit[item_rows != rows], minlength=len(lengths)) > 0
    keep = (changed & moved)[unit]
    n = int(keep.sum())
    return Edited(
        unit[keep],
        rows[keep],
        history.items[item_rows[keep]],
        history.times[rows[keep]],
        np.zeros(n, dtype=bool),
        np.full(n, np.nan, dtype=np.float32),
    )


def substitute(
    history: History,
    starts: np.ndarray,
    lengths: np.ndarray,
    rate: float,
    neighbours: Neighbours,
    rng: np.random.Generator,
) -> Edited:
    """Replace floor(rate * length) random items (at least 1) with a correlated item; an item
    without neighbours stays. The replacement keeps the replaced item's timestamp."""
    count = _count(rate, lengths)
    unit, _, rows = expand(starts, lengths)
    chosen = rank_within(unit, rng.random(len(unit))) < count[unit]
    out = _copies(history, unit, rows)
    replacement, score = neighbours.sample(history.items[rows[chosen]], rng)
    has = replacement >= 0
    positions = np.flatnonzero(chosen)[has]
    out.item[positions] = replacement[has]
    out.new[positions] = True
    out.score[positions] = score[has]
    changed = np.bincount(unit[positions], minlength=len(lengths)) > 0
    return out.select(changed[unit])


def insert(
    history: History,
    starts: np.ndarray,
    lengths: np.ndarray,
    rate: float,
    neighbours: Neighbours,
    rng: np.random.Generator,
) -> Edited:
    """After floor(rate * length) random items (at least 1), insert an item correlated with
    it, timestamped half-way to the next item (the same time after the last item), so time
    order and sequence order agree."""
    count = _count(rate, lengths)
    unit, offset, rows = expand(starts, lengths)
    chosen = np.flatnonzero(rank_within(unit, rng.random(len(unit))) < count[unit])
    added, score = neighbours.sample(history.items[rows[chosen]], rng)
    has = added >= 0
    chosen, added, score = chosen[has], added[has], score[has]
    is_last = offset[chosen] == lengths[unit[chosen]] - 1
    here = history.times[rows[chosen]]
    after = history.times[np.where(is_last, rows[chosen], rows[chosen] + 1)]
    new = Edited(
        unit[chosen],
        np.full(len(chosen), -1, dtype=np.int64),
        added,
        here + (after - here) // 2,
        np.ones(len(chosen), dtype=bool),
        score,
    )
    copies = _copies(history, unit, rows)
    # Originals sit at even keys, an insertion right after position p at 2p + 1.
    position = np.concatenate([2 * offset, 2 * offset[chosen] + 1])
    merged = concat([copies, new])
    order = np.lexsort((position, merged.unit))
    changed = np.bincount(new.unit, minlength=len(lengths)) > 0
    merged = merged.select(order)
    return merged.select(changed[merged.unit])


def concat(parts: list[Edited]) -> Edited:
    """Several outputs as one, in order (units must already be numbered apart)."""
    return Edited(
        *(np.concatenate([getattr(p, name) for p in parts]) for name in Edited.__dataclass_fields__)
    )


def apply(
    op: str,
    history: History,
    starts: np.ndarray,
    lengths: np.ndarray,
    rate: float,
    rng: np.random.Generator,
    neighbours: Neighbours | None = None,
) -> Edited:
    """Operator ``op`` over the units; substitute and insert need ``neighbours``."""
    if op in CORRELATED:
        if neighbours is None:
            raise ValueError(f"{op} needs item neighbours")
        return CORRELATED_OPERATORS[op](history, starts, lengths, rate, neighbours, rng)
    return SIMPLE_OPERATORS[op](history, starts, lengths, rate, rng)


SIMPLE_OPERATORS = {"crop": crop, "mask": mask, "reorder": reorder}
CORRELATED_OPERATORS = {"substitute": substitute, "insert": insert}
