"""Planted synthetic data for the filter tests: good rows plus one block of each bad kind.

Every planted row carries a ``kind`` column, so a test can check that a filter rejects
exactly its kind and keeps the good rows. Counts are fixed by construction (see PLANTED).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    Split,
    Strategy,
    hookimpl,
    split_dataset,
    synthetic_table,
    tail_items,
)
from recaug_sources.world import demo_world

DEMO_SIZE = {"users": 200, "items": 200, "interactions": 5000}
# Rows of each kind in planted_rows(); good rows are all on plausible tail items.
PLANTED = {
    "good": 20 * 2 + 10 * 5,  # 20 real users x 2 items, 10 new users x 5 items
    "catalog": 5 + 3 + 2,  # unknown items, undeclared users, parents that are not real
    "dedupe": 6 + 4,  # repeats of real training pairs, repeats of good rows
    "privacy": 3 * 6,  # three new users copying a real user's 6 training items
    "diversity": 5 + 5 + 6 + 6,  # two identical and two near copies of good new users
    "plausibility": 20,  # real users x items in the bottom fifth of the popularity ranking
    "popularity": 30,  # real users x head items
}
# With max_head_share=0.1 over the 90 good tail rows, 10 head rows may stay.
HEAD_CAP = 0.1
HEAD_KEPT = 10
PLAUSIBLE_THRESHOLD = 0.5


def demo_split() -> Split:
    world = demo_world(DEMO_SIZE["users"], DEMO_SIZE["items"], DEMO_SIZE["interactions"], seed=0)
    return split_dataset(world, seed=0)


def popularity_percentiles(train: Dataset) -> np.ndarray:
    """Each item's rank percentile under the `pop` backend (ties share the middle rank)."""
    popularity = train.real().item_popularity()
    higher = (popularity[None, :] > popularity[:, None]).sum(axis=1)
    same = (popularity[None, :] == popularity[:, None]).sum(axis=1)
    return (higher + (same - 1) / 2) / (len(popularity) - 1)


def planted_rows(train: Dataset) -> pa.Table:
    """Good rows first, then every bad kind, each row labelled in the ``kind`` column."""
    items = np.asarray(train.item_index.ids.to_pylist(), dtype=object)
    percentile = popularity_percentiles(train)
    head = ~tail_items(train)
    good_items = np.flatnonzero((percentile > 0.2) & (percentile <= 0.45) & ~head)
    low_items = np.flatnonzero(percentile >= 0.8)
    head_items = np.flatnonzero(head)
    assert len(good_items) >= 32 and len(low_items) >= 20 and len(head_items) >= 30

    real = train.real()
    user_codes, item_codes = real.codes()
    histories = [set(item_codes[user_codes == u]) for u in range(train.n_users)]
    user_ids = np.asarray(train.user_index.ids.to_pylist(), dtype=object)
    active = [u for u in range(train.n_users) if histories[u]]
    rows: list[tuple[str, str, str | None, str]] = []

    def unseen(user: int, pool: np.ndarray, count: int, offset: int) -> list[int]:
        rolled = np.roll(pool, -offset)
        return [int(i) for i in rolled if i not in histories[user]][:count]

    for k, user in enumerate(active[:20]):
        for item in unseen(user, good_items, 2, 2 * k):
            rows.append((user_ids[user], items[item], user_ids[user], "good"))
    new_sets = [
        [int(good_items[(3 * k + j) % len(good_items)]) for j in range(5)] for k in range(10)
    ]
    for k, chosen in enumerate(new_sets):
        rows += [(f"syn-good-{k}", items[i], user_ids[active[k]], "good") for i in chosen]

    rows += [(user_ids[active[k]], f"ghost-{k}", None, "catalog") for k in range(5)]
    rows += [(f"{k}.0", items[good_items[k]], None, "catalog") for k in range(3)]
    rows += [(f"syn-orphan-{k}", items[good_items[k]], "nobody", "catalog") for k in range(2)]

    real_pairs = [
        (user_ids[active[30 + k]], items[sorted(histories[active[30 + k]])[0]]) for k in range(6)
    ]
    rows += [(u, i, u, "dedupe") for u, i in real_pairs]
    rows += [(u, i, p, "dedupe") for u, i, p, _ in rows[:4]]

    six = [u for u in active if len(histories[u]) == 6][:3]
    assert len(six) == 3
    for k, user in enumerate(six):
        rows += [
            (f"syn-copy-{k}", items[i], user_ids[user], "privacy") for i in sorted(histories[user])
        ]

    extra = int(good_items[-1])
    for k in range(4):
        chosen = new_sets[k] + ([extra] if k >= 2 else [])
        rows += [(f"syn-dup-{k}", items[i], user_ids[active[k]], "diversity") for i in chosen]

    for k, user in enumerate(active[40:60]):
        item = unseen(user, low_items, 1, k)[0]
        rows.append((user_ids[user], items[item], user_ids[user], "plausibility"))
    for k, user in enumerate(active[60:90]):
        item = unseen(user, head_items, 1, k)[0]
        rows.append((user_ids[user], items[item], user_ids[user], "popularity"))

    users, item_ids, parents, kinds = (list(column) for column in zip(*rows))
    table = synthetic_table(users, item_ids, "planted", parent_user=parents)
    return table.append_column("kind", pa.array(kinds, pa.string()))


def of_kinds(table: pa.Table, *kinds: str) -> pa.Table:
    mask = np.isin(np.asarray(table.column("kind").to_pylist(), dtype=object), kinds)
    return table.filter(pa.array(mask))


def kind_counts(table: pa.Table, column: str = "kind") -> dict[str, int]:
    """Rows per value of ``column`` (the planted kind, or the filter that dropped them)."""
    values, counts = np.unique(
        np.asarray(table.column(column).to_pylist(), dtype=object), return_counts=True
    )
    return {str(v): int(c) for v, c in zip(values, counts)}


class PlantedStrategy(Strategy):
    """Returns the planted rows (with their `kind` column) whatever it is asked for."""

    name = "planted"
    description = "Test helper: good synthetic rows plus one block of each bad kind."

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context) -> pa.Table:
        return planted_rows(train)


class PlantedPlugin:
    @hookimpl
    def register_strategies(self, register):  # type: ignore[no-untyped-def]
        register(PlantedStrategy)
