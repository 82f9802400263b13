"""FilterContract for every bundled filter: rows kept or rejected once, reasons, extra
columns, determinism, empty input, options."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recaug_core import Split, synthetic_table
from recaug_core.testing import FilterContract


class WithNewUsers(FilterContract):
    """Adds new synthetic users (some copying a real user) to the default random rows."""

    def synthetic(self, split: Split) -> pa.Table:
        base = super().synthetic(split)
        real = split.train.interactions
        first_user = real.column("user_id")[0].as_py()
        copied = real.filter(pc.equal(real.column("user_id"), first_user))
        items = copied.column("item_id").to_pylist()
        catalog = split.train.item_index.ids.to_pylist()
        rng = np.random.default_rng(1)
        users = ["syn-copy"] * len(items)
        for k in range(6):
            chosen = rng.choice(catalog, size=5, replace=False).tolist()
            users += [f"syn-{k}"] * 5
            items += chosen
        users += ["syn-twin"] * 5
        items += items[-5:]  # the same set as syn-5
        extra = synthetic_table(users, items, "contract", parent_user=[first_user] * len(users))
        return pa.concat_tables([base, extra])


class TestDedupeContract(FilterContract):
    component_name = "dedupe"


class TestCatalogContract(WithNewUsers):
    component_name = "catalog"

    def synthetic(self, split: Split) -> pa.Table:
        """Plus what the filter exists to reject: an item outside the catalog, and a new user
        whose id lacks the synthetic prefix."""
        odd = synthetic_table(["u0001", "stranger-1"], ["i9999", "i0001"], "contract")
        return pa.concat_tables([super().synthetic(split), odd], promote_options="default")


class TestPlausibilityContract(FilterContract):
    component_name = "plausibility"
    options: ClassVar[dict[str, Any]] = {"backend": "pop", "fraction": 0.5}


class TestPopularityContract(FilterContract):
    component_name = "popularity"
    options: ClassVar[dict[str, Any]] = {"target": "flat"}


class TestDiversityContract(WithNewUsers):
    component_name = "diversity"


class TestPrivacyContract(WithNewUsers):
    component_name = "privacy"
