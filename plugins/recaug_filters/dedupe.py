"""`dedupe`: drop synthetic rows that repeat a real training pair or an earlier synthetic row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from recaug_core import Context, Dataset, FilterResult, IdIndex, Options, QualityFilter, arrays
from recaug_filters.rows import split_rows

REPEATS_REAL = "dedupe: repeats a real training pair"
REPEATS_SYNTHETIC = "dedupe: repeats an earlier synthetic row"


class DedupeFilter(QualityFilter):
    name = "dedupe"
    description = "Drops synthetic rows that repeat a real training pair or each other."
    Options = Options

    def apply(self, train: Dataset, synthetic: pa.Table, ctx: Context) -> FilterResult:
        users = train.user_index.extend(synthetic.column("user_id"))
        items = train.item_index.extend(synthetic.column("item_id"))
        real_keys = _pair_keys(train.interactions, users, items)
        keys = _pair_keys(synthetic, users, items)
        copies_real = arrays.isin(keys, real_keys)
        repeated = ~arrays.first_occurrences(keys)  # the earliest row of a pair stays
        return split_rows(
            synthetic,
            copies_real | repeated,
            [REPEATS_REAL, REPEATS_SYNTHETIC],
            np.where(copies_real, 0, 1).astype(np.int8),
            stats={
                "repeats_real": int(copies_real.sum()),
                "repeats_synthetic": int((repeated & ~copies_real).sum()),
            },
        )


def _pair_keys(table: pa.Table, users: IdIndex, items: IdIndex) -> np.ndarray:
    u = users.lookup(table.column("user_id"))
    i = items.lookup(table.column("item_id"))
    return u * len(items) + i
