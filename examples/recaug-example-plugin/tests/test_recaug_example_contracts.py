"""recaug's contract tests, which every strategy and filter must pass."""

from __future__ import annotations

import pyarrow as pa

from recaug_core import Split, synthetic_table
from recaug_core.testing import FilterContract, StrategyContract


class TestCooccurrenceContract(StrategyContract):
    component_name = "cooccurrence"
    options = {"per_user": 3}


class TestCooccurrenceNewUsersContract(StrategyContract):
    component_name = "cooccurrence"
    target = "new"


class TestAgeAppropriateContract(FilterContract):
    component_name = "age-appropriate"

    def synthetic(self, split: Split) -> pa.Table:
        """The contract's random rows, which a minor rarely gets a restricted item in, plus
        every restricted item for a minor: rows the filter must reject."""
        train = split.train
        minor = next(u["user_id"] for u in train.users.to_pylist() if (u["age"] or 99) < 18)
        restricted = [i["item_id"] for i in train.items.to_pylist() if i["min_age"]]
        rows = synthetic_table([minor] * len(restricted), restricted, "contract")
        return pa.concat_tables([super().synthetic(split), rows], promote_options="default")
