"""`age-appropriate`: never add an age-restricted item for a user younger than its minimum age.

The user's age comes from the users table (a new synthetic user has its ``parent_user``'s
age); the item's minimum age from the items table (no value: no restriction).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from recaug_core import Context, Dataset, FilterResult, IdIndex, Options, QualityFilter, RecaugError

TOO_YOUNG = "age-appropriate: user is younger than the item's minimum age"
UNKNOWN_AGE = "age-appropriate: age-restricted item for a user of unknown age"


class AgeOptions(Options):
    age_column: str = Field(default="age", description="users-table column with the user's age")
    min_age_column: str = Field(
        default="min_age", description="items-table column with the minimum age (null: none)"
    )
    unknown_age: Literal["reject", "keep"] = Field(
        default="reject",
        description="restricted items for users whose age is unknown: 'reject' (safe) or 'keep'",
    )


class AgeAppropriateFilter(QualityFilter):
    name = "age-appropriate"
    description = "Drops synthetic rows giving an age-restricted item to a user below that age."
    Options = AgeOptions
    options: AgeOptions

    def apply(self, train: Dataset, synthetic: pa.Table, ctx: Context) -> FilterResult:
        ages = self._column(train.users, "users", "user_id", self.options.age_column)
        min_ages = self._column(train.items, "items", "item_id", self.options.min_age_column)
        # A synthetic user that is not in the users table takes its parent's age.
        age = _lookup(ages, synthetic.column("user_id"))
        parent_age = _lookup(ages, synthetic.column("parent_user"))
        age = np.where(np.isnan(age), parent_age, age)
        min_age = np.nan_to_num(_lookup(min_ages, synthetic.column("item_id")), nan=0.0)
        restricted = min_age > 0
        too_young = restricted & (age < min_age)  # False where age is NaN
        unknown = restricted & np.isnan(age)
        drop = too_young | (unknown & (self.options.unknown_age == "reject"))
        reasons = np.where(too_young, TOO_YOUNG, UNKNOWN_AGE)
        rejected = synthetic.filter(pa.array(drop)).append_column(
            "reason", pa.array(reasons[drop], pa.string())
        )
        return FilterResult(
            kept=synthetic.filter(pa.array(~drop)),
            rejected=rejected,
            stats={"too_young": int(too_young.sum()), "unknown_age": int(unknown.sum())},
        )

    def _column(
        self, table: pa.Table | None, what: str, key: str, column: str
    ) -> tuple[IdIndex, np.ndarray]:
        if table is None or column not in table.column_names:
            raise RecaugError(
                f"filter '{self.name}' needs column '{column}' in the {what} table, which this "
                "dataset lacks (name the right column with the filter's options)"
            )
        values = pc.cast(table.column(column), pa.float64())
        return IdIndex(table.column(key)), values.to_numpy(zero_copy_only=False).astype(float)


def _lookup(column: tuple[IdIndex, np.ndarray], ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Value for each id, NaN where the id (or its value) is missing."""
    index, values = column
    rows = index.lookup(ids)
    out = np.full(len(rows), np.nan)
    out[rows >= 0] = values[rows[rows >= 0]]
    return out
