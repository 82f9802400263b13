"""Validation-selected arms: how much augmentation, for whom, merged how, or none at all.

An arm with ``select = "validation"`` does not fix its strength: it tries every combination of
a small grid (``[arms.grid]``: budgets, targets, merge policies, strategy options) *and no
augmentation at all*, fits each backend once per candidate, and keeps the candidate whose
model ranks the validation split best (NDCG@10). Only the kept model is then scored on the
test split, so test rows play no part in the choice. "No augmentation" is the baseline's own
model: when the search finds nothing better, the arm reports exactly the baseline's figures.

This module decides the candidates and the choice; ``experiment.py`` runs them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from recaug_core.api import Target
from recaug_core.errors import RecaugError
from recaug_core.merge import MergePolicy
from recaug_core.settings import AugmentSettings, Strict

NONE = "none"  # the candidate without augmentation
SELECT_METRIC = "ndcg@10"
Select = Literal["validation"]


class Grid(Strict):
    """What a validation-selected arm may vary; an absent key keeps the arm's own value."""

    budget: list[int | None] | None = Field(
        default=None, min_length=1, description="budgets to try (null: the strategy's own)"
    )
    target: list[Target] | None = Field(default=None, min_length=1, description="targets to try")
    merge: list[str] | None = Field(
        default=None, min_length=1, description="merge policies to try (see --merge)"
    )
    options: dict[str, list[Any]] = Field(
        default_factory=dict, description="strategy options to try, each a list of values"
    )

    @field_validator("budget")
    @classmethod
    def _budgets(cls, value: list[int | None] | None) -> list[int | None] | None:
        if value is not None and any(b is not None and b < 0 for b in value):
            raise ValueError("budgets must be at least 0")
        return value

    @field_validator("merge")
    @classmethod
    def _merges(cls, value: list[str] | None) -> list[str] | None:
        for spec in value or []:
            MergePolicy.from_spec(spec)
        return value


# What `select = "validation"` tries when the arm gives no grid: whom to augment, and how
# strongly the rows count. Chosen on the validation splits of amazon-toys, amazon-sports and
# MovieLens-100K (docs/benchmarks.md, "Does augmentation help?").
DEFAULT_GRID = Grid(target=["sparse", "all"], merge=["concat", "weighted:weight=0.25"])


@dataclass(frozen=True)
class Candidate:
    """One setting a validation-selected arm tries."""

    label: str  # e.g. "target=all merge=weighted:weight=0.25"
    settings: AugmentSettings
    merge: MergePolicy

    @property
    def folder(self) -> str:
        """The folder of its augmentation: one per distinct augment settings, so candidates
        that differ only in their merge policy share their synthetic rows."""
        text = json.dumps(self.settings.model_dump(mode="json"), sort_keys=True)
        return "candidate-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def candidates(settings: AugmentSettings, merge: MergePolicy, grid: Grid) -> list[Candidate]:
    """Every combination of ``grid`` over the arm's own ``settings`` and ``merge``, in a fixed
    order (budgets, targets, options, merges); the arm's own values fill absent keys."""
    budgets = grid.budget if grid.budget is not None else [settings.budget]
    targets = grid.target if grid.target is not None else [settings.target]
    merges = [MergePolicy.parse(m, where="merge") for m in grid.merge or [str(merge)]]
    names = sorted(grid.options)
    values = [grid.options[name] for name in names]
    out = []
    for budget, target, chosen, policy in itertools.product(
        budgets, targets, list(itertools.product(*values)), merges
    ):
        options = {**settings.options, **dict(zip(names, chosen))}
        varied = settings.model_copy(
            update={"budget": budget, "target": target, "options": options}
        )
        parts = []
        if grid.budget is not None:
            parts.append(f"budget={'default' if budget is None else budget}")
        if grid.target is not None:
            parts.append(f"target={target}")
        parts += [f"{name}={value}" for name, value in zip(names, chosen)]
        if grid.merge is not None:
            parts.append(f"merge={policy}")
        out.append(Candidate(" ".join(parts) or "as given", varied, policy))
    if len({c.label for c in out}) != len(out):
        raise RecaugError("the grid lists a value twice; every candidate must differ")
    return out


def choose(scores: dict[str, float | None]) -> str:
    """The candidate with the best validation figure; on a tie the earlier one (``none``
    first: augmentation has to earn its place). Candidates without a figure never win."""
    best, best_score = NONE, scores.get(NONE)
    for label, score in scores.items():
        if score is not None and (best_score is None or score > best_score):
            best, best_score = label, score
    return best
