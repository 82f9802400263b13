"""Merge policies: how kept synthetic rows enter a backend's training.

Adding synthetic rows as full positives, exactly like real ones, is what every bundled
strategy did before 0.2.0, and it made recommendations worse. Work that reports gains from
synthetic interactions is more careful: it down-weights them by confidence (self-training,
distillation), or pretrains on them and then fine-tunes on the real rows (ASReP). The policy
is chosen per evaluation (``recaug evaluate --merge``, ``merge = ...`` per experiment arm),
never baked into the generated rows:

- ``concat``: every synthetic row is a training row like a real one.
- ``weighted``: each synthetic row's loss term is multiplied by a weight; real rows keep 1.
  ``weight=W`` gives every synthetic row W; ``weight=W,by=score`` gives a row W times the
  percentile of its ``score`` among the synthetic rows (see ``synthetic_weights``). A row
  whose weight is 0 is dropped before training, so ``weight=0`` trains on exactly the real
  rows and ``weight=1`` on exactly what ``concat`` trains on.
- ``pretrain``: train on real and synthetic rows, then continue from that model's best
  weights on the real rows only, early stopping on validation again.
- ``view``: the loss is trained on the real rows only; the synthetic rows enter only the graph
  of a contrastive view (a backend with views, e.g. ``embedding -o views=simgcl``): an
  augmented graph whose representations are aligned with the real graph's.

The core applies the policy to the training set (``merged_training_set``) and puts it in the
backend's ``Context`` (``ctx.merge``); a backend walks ``training_phases(train, ctx)`` and says
which policies it honours in ``Recommender.merge_policies``. A backend is never asked for a
policy it does not list (``check_supported``): nothing falls back silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from recaug_core.api import parse_spec
from recaug_core.data import Dataset
from recaug_core.errors import RecaugError
from recaug_core.schema import REAL

PolicyName = Literal["concat", "weighted", "pretrain", "view"]
POLICIES: tuple[str, ...] = PolicyName.__args__  # type: ignore[attr-defined]
WEIGHT_COLUMN = "weight"


class MergePolicy(BaseModel):
    """A merge policy and its settings; written ``NAME[:key=value,...]`` (``str(policy)``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    policy: PolicyName = "concat"
    weight: float = Field(
        default=1.0, ge=0.0, le=1.0, description="weighted: a synthetic row's weight (or cap)"
    )
    by: Literal["constant", "score"] = Field(
        default="constant",
        description="weighted: constant weight, or weight times the row's score percentile",
    )

    @model_validator(mode="after")
    def _settings_belong_to_weighted(self) -> MergePolicy:
        if self.policy != "weighted" and (self.weight != 1.0 or self.by != "constant"):
            raise ValueError(f"'weight' and 'by' are settings of 'weighted', not of {self.policy}")
        return self

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | MergePolicy, where: str = "--merge") -> Any:
        """A policy from ``"weighted:weight=0.2"``, a mapping or a policy; RecaugError naming
        ``where`` otherwise."""
        try:
            return cls.from_spec(value)
        except ValueError as exc:
            raise RecaugError(f"{where} {value!r}: {exc}") from None

    @classmethod
    def from_spec(cls, value: str | Mapping[str, Any] | MergePolicy) -> Any:
        """Like ``parse``, raising ValueError with the reason alone (for pydantic fields)."""
        if isinstance(value, MergePolicy):
            return value
        try:
            if isinstance(value, str):
                name, options = parse_spec(value)
                data: dict[str, Any] = {"policy": name, **options}
            else:
                data = dict(value)
            return cls.model_validate(data)
        except (ValueError, ValidationError) as exc:
            raise ValueError(_first_error(exc)) from None

    def __str__(self) -> str:
        if self.policy != "weighted":
            return self.policy
        by = ",by=score" if self.by == "score" else ""
        return f"weighted:weight={self.weight:g}{by}"


CONCAT = MergePolicy()


def _first_error(exc: ValueError | ValidationError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "literal_error" and key == "policy":
            return f"unknown merge policy; choose one of {', '.join(POLICIES)}"
        if first["type"] == "extra_forbidden":
            return f"unknown setting '{key}' (weighted takes weight and by)"
        return f"{key}: {message}" if key else message
    return str(exc)


def synthetic_weights(synthetic: pa.Table, policy: MergePolicy) -> np.ndarray:
    """The weight of each synthetic row under ``policy`` (1 unless ``weighted``).

    ``by=score`` calibrates scores of any scale the same way: a row's weight is ``weight``
    times the fraction of scored synthetic rows whose score is at most its own (ties share
    the highest such fraction), so the most confident row gets ``weight`` and weights fall
    evenly below it. Rows without a score get ``weight``.
    """
    n = synthetic.num_rows
    if policy.policy != "weighted":
        return np.ones(n, dtype=np.float32)
    weights = np.full(n, policy.weight, dtype=np.float32)
    if policy.by == "constant" or n == 0:
        return weights
    column = synthetic.column("score")
    scores = np.asarray(pc.fill_null(column, np.nan).to_numpy(), dtype=np.float64)
    scored = ~np.isnan(scores)
    if scored.any():
        values = np.sort(scores[scored])
        at_most = np.searchsorted(values, scores[scored], side="right")
        weights[scored] = policy.weight * at_most / len(values)
    return weights


def merged_training_set(real_train: Dataset, augmented: Dataset, policy: MergePolicy) -> Dataset:
    """What a backend trains on: ``augmented`` (real training rows + kept synthetic rows) as
    ``policy`` wants it. ``weighted`` drops rows of weight 0 and records every row's weight
    in a ``weight`` column; the other policies leave ``augmented`` as it is."""
    if policy.policy != "weighted":
        return augmented
    rows = augmented.interactions
    synthetic = pc.not_equal(rows.column("origin"), REAL)
    weights = np.ones(rows.num_rows, dtype=np.float32)
    mask = np.asarray(synthetic.to_numpy(zero_copy_only=False), dtype=bool)
    weights[mask] = synthetic_weights(rows.filter(synthetic), policy)
    keep = weights > 0
    rows = rows.filter(pa.array(keep)).drop_columns(
        [WEIGHT_COLUMN] if WEIGHT_COLUMN in rows.column_names else []
    )
    rows = rows.append_column(WEIGHT_COLUMN, pa.array(weights[keep], pa.float32()))
    # Rebuilt on the real training set's indexes: a synthetic user whose rows all weigh 0
    # does not even become a user, so weight=0 trains on exactly the real training set.
    merged = real_train.with_interactions(rows, extend_users=True)
    return Dataset(
        merged.interactions,
        items=augmented.items,
        users=augmented.users,
        name=augmented.name,
        user_index_=merged.user_index,
        item_index_=merged.item_index,
    )


@dataclass(frozen=True)
class TrainingPhase:
    """One phase of a backend's training: the rows to train on and their loss weights.

    ``weights`` is aligned with ``data.interactions`` (None: every row weighs 1). A phase after
    the first continues from the previous phase's best weights. ``view_data`` (policy
    ``view``) holds the real and synthetic rows whose graph a contrastive view propagates
    over, while ``data`` (the real rows) is what the loss is trained on; None: ``data``.
    """

    name: str
    data: Dataset
    weights: np.ndarray | None = None
    view_data: Dataset | None = None


def training_phases(train: Dataset, policy: MergePolicy | None) -> list[TrainingPhase]:
    """The phases a backend trains through for ``train`` under ``policy`` (``ctx.merge``)."""
    policy = policy or CONCAT
    if policy.policy == "weighted" and WEIGHT_COLUMN in train.interactions.column_names:
        column = train.interactions.column(WEIGHT_COLUMN)
        weights = np.asarray(pc.fill_null(column, 1.0).to_numpy(), dtype=np.float32)
        return [TrainingPhase("weighted", train, weights)]
    real = train.real()
    if policy.policy == "pretrain" and len(real) < len(train):
        return [TrainingPhase("pretrain", train), TrainingPhase("fine-tune", real)]
    if policy.policy == "view" and len(real) < len(train):
        return [TrainingPhase("train", real, view_data=train)]
    return [TrainingPhase("train", train)]


def pair_weights(phase: TrainingPhase) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Distinct (user, item) pairs of a phase and each pair's weight (the largest of its
    rows'; None when every row weighs 1), ordered by user then item."""
    users, items = phase.data.codes()
    n_items = max(phase.data.n_items, 1)
    keys = users * n_items + items
    if phase.weights is None:
        unique = np.unique(keys)
        return unique // n_items, unique % n_items, None
    order = np.lexsort((-phase.weights, keys))  # by key, heaviest row first
    first = np.ones(len(order), dtype=bool)
    first[1:] = keys[order][1:] != keys[order][:-1]
    chosen = order[first]
    return users[chosen], items[chosen], phase.weights[chosen].astype(np.float32)


def check_supported(backend: Any, policy: MergePolicy | None) -> None:
    """RecaugError unless ``backend`` (a Recommender class) honours ``policy``."""
    if policy is None or policy.policy == "concat":
        return
    supported = getattr(backend, "merge_policies", frozenset({"concat"}))
    if policy.policy not in supported:
        raise RecaugError(
            f"backend '{backend.name}' cannot honour merge policy '{policy.policy}' (it "
            f"supports: {', '.join(sorted(supported))}); choose another --merge or backend"
        )
