"""recaug's contract tests, which every strategy and filter must pass."""

from __future__ import annotations

from recaug_core.testing import FilterContract, StrategyContract


class TestCooccurrenceContract(StrategyContract):
    component_name = "cooccurrence"
    options = {"per_user": 3}


class TestCooccurrenceNewUsersContract(StrategyContract):
    component_name = "cooccurrence"
    target = "new"


class TestAgeAppropriateContract(FilterContract):
    component_name = "age-appropriate"
