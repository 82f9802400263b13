"""`seq`: augment users' time-ordered histories with CL4SRec / CoSeRec operators.

crop, mask and reorder make new pseudo-users (``syn-seq-OP-ROUND-PARENT``, ``parent_user``
set) whose rows keep the parent's timestamps. substitute and insert use correlated items
(co-occurrence in the training split, or item-text embeddings); insert adds rows to the real
user by default, timestamped between their neighbours, so time order stays consistent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    RecaugError,
    Strategy,
    synthetic_table,
    tail_items,
    target_users,
)
from recaug_modelkit import sequence_ops as operators
from recaug_modelkit.neighbours import Neighbours, from_cooccurrence, from_embeddings
from recaug_modelkit.options import OperatorRates
from recaug_modelkit.sequence_ops import CORRELATED, OPERATORS, Operator
from recaug_modelkit.text import DEFAULT_MODEL

PSEUDO_PREFIX = "syn-seq-"


class SeqOptions(OperatorRates):
    mode: Literal["operators", "pseudo-prior"] = Field(
        default="operators",
        description=(
            "operators: edit histories with ops; pseudo-prior: a model trained on reversed "
            "histories prepends prior_items items to each target user (ASReP)"
        ),
    )
    prior_items: int = Field(
        default=3, ge=1, le=200, description="pseudo-prior: items prepended to each target user"
    )
    prior_epochs: int = Field(
        default=30, ge=1, le=10_000, description="pseudo-prior: epochs of the reversed model"
    )
    ops: list[Operator] = Field(
        default=list(OPERATORS),
        description="operators, each applied to every target user (crop,mask,reorder,...)",
    )
    per_user: int = Field(
        default=1, ge=1, le=100, description="augmented copies per target user and operator"
    )
    output: Literal["auto", "pseudo-users", "real-user"] = Field(
        default="auto",
        description=(
            "auto: insert adds rows to the real user, the others make pseudo-users; "
            "pseudo-users: every operator makes pseudo-users; real-user: insert and "
            "substitute add rows to the real user"
        ),
    )
    similarity: Literal["cooccurrence", "text"] = Field(
        default="cooccurrence",
        description="where correlated items come from: training co-occurrence or item text",
    )
    neighbours: int = Field(
        default=10, ge=1, le=1000, description="correlated items drawn from each item's top k"
    )
    window: int = Field(
        default=3,
        ge=1,
        le=100,
        description="co-occurrence counts items at most this many steps apart",
    )
    text_model: str = Field(
        default=DEFAULT_MODEL,
        description="sentence-transformers model (path or hub id) for similarity=text",
    )
    item_text: list[str] | None = Field(
        default=None, description="item text columns for similarity=text (default: all)"
    )
    min_length: int = Field(
        default=2, ge=1, description="pseudo-users with fewer items are not written"
    )

    @field_validator("ops")
    @classmethod
    def _distinct_ops(cls, value: list[Operator]) -> list[Operator]:
        if not value:
            raise ValueError("choose at least one operator")
        if len(set(value)) != len(value):
            raise ValueError("each operator may appear once")
        return value

    @model_validator(mode="after")
    def _real_user_needs_additive_ops(self) -> SeqOptions:
        removing = [op for op in self.ops if op not in CORRELATED]
        if self.output == "real-user" and removing:
            raise ValueError(
                f"output=real-user adds rows to real users, which {', '.join(removing)} cannot "
                "do; use output=auto or ops=insert,substitute"
            )
        return self


@dataclass(frozen=True)
class Histories:
    """Real training rows in time order as flat arrays, CSR over ``train.user_index``."""

    indptr: np.ndarray
    items: np.ndarray
    times: np.ndarray
    ratings: np.ndarray  # float, NaN where unrated
    timed: bool  # every row has a timestamp


class SeqStrategy(Strategy):
    name = "seq"
    description = (
        "Sequence operators (crop, mask, reorder, substitute, insert) as in CL4SRec/CoSeRec."
    )
    Options = SeqOptions
    options: SeqOptions

    def fit(self, train: Dataset, ctx: Context) -> None:
        self.histories_ = histories(train)
        self.vectors_: np.ndarray | None = None
        if self.options.mode == "pseudo-prior":
            self._fit_prior(train, ctx)
            return
        wants_text = CORRELATED.intersection(self.options.ops)
        if wants_text and self.options.similarity == "text":
            self.vectors_ = self._text_vectors(train, ctx)

    def _text_vectors(self, train: Dataset, ctx: Context) -> np.ndarray:
        from recaug_modelkit.text import encode_texts

        if not train.text_columns():
            raise RecaugError(
                "seq: similarity=text needs item text (an items table with text columns), "
                "and this data has none; use similarity=cooccurrence"
            )
        return encode_texts(
            train.item_texts(self.options.item_text),
            self.options.text_model,
            cache_dir=ctx.checkpoint_dir("text-embeddings"),
            show_progress=ctx.draws_progress,
        )

    def _fit_prior(self, train: Dataset, ctx: Context) -> None:
        from recaug_seq.prior import reversed_sequences, train_reversed

        if not self.histories_.timed:
            raise RecaugError(
                "seq: mode=pseudo-prior writes rows timestamped before each user's first "
                "interaction, and this data has rows without a timestamp"
            )
        history = self.histories_
        self.backwards_ = reversed_sequences(history.indptr, history.items)
        self.prior_model_ = train_reversed(
            self.backwards_,
            train.n_items,
            self.options.prior_epochs,
            train.item_index.ids.to_pylist(),
            ctx,
        )

    def _generate_priors(
        self, train: Dataset, request: GenerationRequest, ctx: Context
    ) -> pa.Table:
        from recaug_seq.prior import pseudo_priors

        if request.target == "new":
            raise RecaugError(
                "seq: mode=pseudo-prior prepends items to real users, so --target new cannot "
                "apply; use --target sparse or all"
            )
        history = self.histories_
        users = target_users(train, request.target)
        users = users[np.diff(history.indptr)[users] > 0]
        k = self.options.prior_items
        items, probability = pseudo_priors(self.prior_model_, self.backwards_, users, k)
        first_time = history.times[history.indptr[users]]
        too_early = first_time < k
        if too_early.any():
            user = train.user_index.ids[int(users[np.argmax(too_early)])].as_py()
            raise RecaugError(
                f"seq: mode=pseudo-prior timestamps its {k} items 1 second apart before each "
                f"user's first interaction, but {int(too_early.sum())} target users start "
                f"earlier than second {k} (user {user!r} at {int(first_time.min())}); "
                "timestamps must not be negative. Timestamps that start at 0 are positions, "
                "not times: add a constant to every timestamp (the order stays the same) or "
                "lower prior_items"
            )
        edited = operators.Edited(
            unit=np.repeat(np.arange(len(users)), k),
            source=np.full(len(users) * k, -1, dtype=np.int64),
            # earliest first: column k-1 was predicted last and comes first in time
            item=items[:, ::-1].ravel(),
            time=(first_time[:, None] - np.arange(k, 0, -1)[None, :]).ravel(),
            new=np.ones(len(users) * k, dtype=bool),
            score=probability[:, ::-1].ravel(),
        )
        unit_table = _describe_units(users, pseudo=False, op_index=0, round_=0)
        if request.budget is not None:
            edited = _within_budget(edited, len(users), request.budget, ctx.rng("seq", "budget"))
        return self._table(train, edited, unit_table)

    def generate(self, train: Dataset, request: GenerationRequest, ctx: Context) -> pa.Table:
        options = self.options
        if options.mode == "pseudo-prior":
            return self._generate_priors(train, request, ctx)
        if request.target == "new" and options.output == "real-user":
            raise RecaugError("seq: --target new makes new users, so output=real-user cannot apply")
        history = self.histories_
        users = target_users(train, request.target)
        starts, lengths = history.indptr[users], np.diff(history.indptr)[users]
        flat = operators.History(history.items, history.times)
        allowed = tail_items(train) if request.target == "long-tail" else None
        neighbours = (
            self._neighbours(train.n_items, allowed)
            if CORRELATED.intersection(options.ops)
            else None
        )
        parts: list[operators.Edited] = []
        described: list[np.ndarray] = []
        for round_ in range(options.per_user):
            for op_index, op in enumerate(options.ops):
                pseudo = request.target == "new" or _makes_pseudo_users(op, options.output)
                rng = ctx.rng("seq", op, round_)
                rate = getattr(options, f"{op}_rate")
                edited = operators.apply(op, flat, starts, lengths, rate, rng, neighbours)
                if pseudo:
                    edited = _long_enough(edited, options.min_length)
                else:
                    edited = edited.select(edited.new)  # only the rows the real user gains
                parts.append(_renumber(edited, offset=len(users) * len(described)))
                described.append(_describe_units(users, pseudo, op_index, round_))
        edited = operators.concat(parts)
        unit_table = np.concatenate(described)
        if request.budget is not None:
            edited = _within_budget(
                edited, len(unit_table), request.budget, ctx.rng("seq", "budget")
            )
        return self._table(train, edited, unit_table)

    def _neighbours(self, n_items: int, allowed: np.ndarray | None) -> Neighbours:
        if self.vectors_ is not None:
            return from_embeddings(self.vectors_, self.options.neighbours, allowed)
        history = self.histories_
        return from_cooccurrence(
            history.indptr,
            history.items,
            n_items,
            self.options.neighbours,
            self.options.window,
            allowed,
        )

    def _table(self, train: Dataset, edited: operators.Edited, unit_table: np.ndarray) -> pa.Table:
        history = self.histories_
        unit = edited.unit
        parent_idx, pseudo, op_index, round_ = (unit_table[unit, c] for c in range(4))
        parents = train.user_index.to_ids(parent_idx)
        # One prefix per (operator, round), joined to the parent id by Arrow, not in Python.
        combos = op_index * self.options.per_user + round_
        prefixes = pa.array(
            [
                f"{PSEUDO_PREFIX}{op}-{r + 1}-"
                for op in self.options.ops
                for r in range(self.options.per_user)
            ],
            pa.string(),
        ).take(pa.array(combos))
        pseudo_ids = pc.binary_join_element_wise(prefixes, parents, "")
        user_ids = pc.if_else(pa.array(pseudo.astype(bool)), pseudo_ids, parents)
        _check_new_ids(train, pseudo_ids.filter(pa.array(pseudo.astype(bool))))
        copied = edited.source >= 0
        rating = np.where(copied, history.ratings[np.maximum(edited.source, 0)], np.nan)
        return synthetic_table(
            user_ids,
            train.item_index.to_ids(edited.item),
            self.name,
            parent_user=parents,
            score=pa.array(edited.score, pa.float32(), from_pandas=True),
            rating=pa.array(rating.astype(np.float32), pa.float32(), from_pandas=True),
            timestamp=pa.array(edited.time, pa.int64()) if history.timed else None,
        )


def histories(train: Dataset) -> Histories:
    """Real training rows ordered by user, then timestamp, then file order (the order of
    ``Dataset.sequences``), with their timestamps and ratings alongside."""
    real = train.real()
    users, items = real.codes()
    table = real.interactions
    time = table.column("timestamp")
    times = np.asarray(pc.fill_null(time, 0).to_numpy(), dtype=np.int64)
    ratings = np.asarray(table.column("rating").to_numpy(zero_copy_only=False), dtype=np.float64)
    order = np.lexsort((np.arange(len(users)), times, users))
    indptr = np.zeros(train.n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=train.n_users), out=indptr[1:])
    return Histories(indptr, items[order], times[order], ratings[order], timed=time.null_count == 0)


def _makes_pseudo_users(op: str, output: str) -> bool:
    if output == "pseudo-users" or op not in CORRELATED:
        return True
    return output == "auto" and op != "insert"


def _describe_units(users: np.ndarray, pseudo: bool, op_index: int, round_: int) -> np.ndarray:
    """One row per unit of an operator pass: (parent user, pseudo-user?, operator, round)."""
    n = len(users)
    return np.column_stack(
        [users, np.full(n, int(pseudo)), np.full(n, op_index), np.full(n, round_)]
    ).astype(np.int64)


def _long_enough(edited: operators.Edited, min_length: int) -> operators.Edited:
    size = np.bincount(edited.unit, minlength=edited.unit.max() + 1 if len(edited) else 0)
    return edited.select(size[edited.unit] >= min_length)


def _renumber(edited: operators.Edited, offset: int) -> operators.Edited:
    return operators.Edited(
        edited.unit + offset, edited.source, edited.item, edited.time, edited.new, edited.score
    )


def _within_budget(
    edited: operators.Edited, n_units: int, budget: int, rng: np.random.Generator
) -> operators.Edited:
    """Whole augmented sequences, taken in random order while they fit in ``budget`` rows
    (a cut sequence would be a different augmentation than the operator made)."""
    rows = np.bincount(edited.unit, minlength=n_units)
    order = rng.permutation(np.flatnonzero(rows))
    fits = order[np.cumsum(rows[order]) <= budget]
    keep = np.zeros(n_units, dtype=bool)
    keep[fits] = True
    return edited.select(keep[edited.unit])


def _check_new_ids(train: Dataset, ids: pa.Array) -> None:
    clash = pc.is_in(ids, value_set=train.user_index.ids)
    if len(ids) and pc.any(clash).as_py():
        first = ids.filter(clash)[0].as_py()
        raise RecaugError(f"seq: pseudo-user id {first!r} already names a user in the data")
