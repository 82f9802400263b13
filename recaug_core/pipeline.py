"""augment(): split -> fit the strategy on train -> generate -> filters -> merge with provenance.

The strategy and the filters only ever see the training split. Synthetic rows always carry
``origin`` = the strategy's name, so nothing downstream can mistake them for real data.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from recaug_core.api import GenerationRequest, QualityFilter, Strategy, SyntheticData
from recaug_core.data import Dataset, attach_text, concat_interactions, empty_interactions
from recaug_core.errors import RecaugError
from recaug_core.guards import (
    ROW_IDENTITY,
    TEXT_IDENTITY,
    check_filtered,
    check_generated,
    check_kept,
    mark_rows,
    unmark,
)
from recaug_core.registry import call_plugin, plugin_failure
from recaug_core.runtime import Context, seed_everything
from recaug_core.schema import TEXT_SCHEMA, normalize_interactions
from recaug_core.split import Split


@dataclass
class Generated:
    """A strategy's output after the pipeline has checked it."""

    interactions: pa.Table
    text: pa.Table | None = None
    timings: dict[str, float] = field(default_factory=dict)


class Counts(BaseModel):
    """Rows at each step of an augmentation."""

    model_config = ConfigDict(extra="forbid")

    train_rows: int
    generated: int
    kept: int
    rejected: int
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    augmented_rows: int
    synthetic_users: int
    text_generated: int | None = None  # with generated item or user text only
    text_kept: int | None = None


@dataclass
class AugmentResult:
    synthetic: pa.Table  # what the strategy generated (within budget)
    kept: pa.Table  # what survived every filter
    rejected: pa.Table  # dropped rows with `filter` and `reason`
    augmented: Dataset  # real training rows + kept synthetic rows (+ generated text columns)
    counts: Counts
    generated_text: pa.Table | None = None  # generated attribute text, long form
    text: pa.Table | None = None  # the part of it every filter kept
    text_rejected: pa.Table | None = None
    timings: dict[str, float] = field(default_factory=dict)
    filter_stats: dict[str, Any] = field(default_factory=dict)


def generate_synthetic(
    strategy: Strategy, train: Dataset, request: GenerationRequest, ctx: Context
) -> Generated:
    """Fit ``strategy`` on ``train`` and return its output (schema and budget enforced)."""
    timings: dict[str, float] = {}
    seed_everything(ctx.seed)
    started = time.perf_counter()
    call_plugin(strategy, "fit", lambda: strategy.fit(train, ctx))
    timings["fit_s"] = time.perf_counter() - started
    started = time.perf_counter()
    output = call_plugin(strategy, "generate", lambda: strategy.generate(train, request, ctx))
    timings["generate_s"] = time.perf_counter() - started
    text = None
    if isinstance(output, SyntheticData):
        output, text = output.interactions, output.text
    if not isinstance(output, pa.Table):
        raise plugin_failure(
            strategy,
            "generate",
            f"returned {type(output).__name__}, not a pyarrow Table",
        )
    try:
        table = normalize_interactions(output)
        if text is not None:
            text = text.select(TEXT_SCHEMA.names).cast(TEXT_SCHEMA)
    except (RecaugError, KeyError, pa.ArrowInvalid) as exc:
        raise plugin_failure(strategy, "generate", f"generated malformed rows: {exc}") from None
    # Provenance is the pipeline's job, not a plugin's promise.
    origin = pa.array([strategy.name] * table.num_rows, pa.string())
    table = table.set_column(table.column_names.index("origin"), "origin", origin)
    check_generated(table, strategy)
    if request.budget is not None and table.num_rows > request.budget:
        ctx.log(
            f"strategy '{strategy.name}' generated {table.num_rows} rows over the budget of "
            f"{request.budget}; keeping the first {request.budget}"
        )
        table = table.slice(0, request.budget)
    return Generated(table, text, timings)


def _filter_step(
    flt: QualityFilter, method: str, train: Dataset, rows: pa.Table, ctx: Context
) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    fn = getattr(flt, method)
    given = mark_rows(rows)
    result = call_plugin(flt, method, lambda: fn(train, given, ctx))
    kept, dropped = getattr(result, "kept", None), getattr(result, "rejected", None)
    if not (isinstance(kept, pa.Table) and isinstance(dropped, pa.Table)):
        raise plugin_failure(
            flt, method, f"returned {type(result).__name__}, not a FilterResult of two tables"
        )
    identity = ROW_IDENTITY if method == "apply" else TEXT_IDENTITY
    check_filtered(given, kept, dropped, flt, method, identity)
    try:  # the rows as given, in the schema's types (a rebuilt table may widen a float)
        kept, dropped = (_conform(unmark(t), method) for t in (kept, dropped))
    except (RecaugError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise plugin_failure(flt, method, f"returned rows of other types: {exc}") from None
    if "reason" not in dropped.column_names:
        dropped = dropped.append_column(
            "reason", pa.array([flt.name] * dropped.num_rows, pa.string())
        )
    dropped = dropped.append_column("filter", pa.array([flt.name] * dropped.num_rows, pa.string()))
    return kept, dropped, dict(result.stats)


def _conform(table: pa.Table, method: str) -> pa.Table:
    if method == "apply":
        return normalize_interactions(table)
    extra = [c for c in table.column_names if c not in TEXT_SCHEMA.names]
    columns = [table.column(f.name).cast(f.type) for f in TEXT_SCHEMA]
    return pa.Table.from_arrays(
        columns + [table.column(c) for c in extra], names=[*TEXT_SCHEMA.names, *extra]
    )


def apply_filters(
    filters: Sequence[QualityFilter],
    train: Dataset,
    generated: Generated,
    ctx: Context,
) -> AugmentResult:
    """Run the filters in order over the interactions (and any generated text), then merge."""
    started = time.perf_counter()
    kept, text = generated.interactions, generated.text
    rejected_parts: list[pa.Table] = []
    text_rejected_parts: list[pa.Table] = []
    stats: dict[str, Any] = {}
    for position, flt in enumerate(filters):
        before = kept.num_rows
        kept, dropped, facts = _filter_step(flt, "apply", train, kept, ctx)
        rejected_parts.append(dropped)
        key = flt.name if flt.name not in stats else f"{flt.name}#{position + 1}"
        stats[key] = {"in": before, "kept": kept.num_rows, "rejected": dropped.num_rows, **facts}
        if text is not None:
            text, text_dropped, _ = _filter_step(flt, "apply_text", train, text, ctx)
            text_rejected_parts.append(text_dropped)
            stats[key]["text_rejected"] = text_dropped.num_rows
    rejected = _concat_or_empty(rejected_parts, _empty_rejected())
    augmented = merge(train, kept, text)
    counts = Counts(
        train_rows=len(train),
        generated=generated.interactions.num_rows,
        kept=kept.num_rows,
        rejected=rejected.num_rows,
        rejected_by_reason=_count_by(rejected, "reason"),
        augmented_rows=len(augmented),
        synthetic_users=_distinct(kept, "user_id"),
    )
    text_rejected = None
    if text is not None:
        text_rejected = _concat_or_empty(text_rejected_parts, text.slice(0, 0))
        counts.text_generated = generated.text.num_rows if generated.text is not None else 0
        counts.text_kept = text.num_rows
    timings = {**generated.timings, "filter_s": time.perf_counter() - started}
    return AugmentResult(
        synthetic=generated.interactions,
        kept=kept,
        rejected=rejected,
        augmented=augmented,
        generated_text=generated.text,
        text=text,
        text_rejected=text_rejected,
        counts=counts,
        timings=timings,
        filter_stats=stats,
    )


def merge(train: Dataset, kept: pa.Table, text: pa.Table | None = None) -> Dataset:
    """Real training rows, then kept synthetic rows (new users appended to the user index),
    with generated text attached to the item and user tables."""
    combined = concat_interactions([train.interactions, kept])
    augmented = train.with_interactions(combined, extend_users=True)
    if text is None or text.num_rows == 0:
        return augmented
    items = (
        augmented.items
        if augmented.items is not None
        else pa.table({"item_id": augmented.item_index.ids})
    )
    users = (
        augmented.users
        if augmented.users is not None
        else pa.table({"user_id": augmented.user_index.ids})
    )
    entity = text.column("entity")
    items = attach_text(items, "item_id", text.filter(pc.equal(entity, "item")))
    users = attach_text(users, "user_id", text.filter(pc.equal(entity, "user")))
    has_users = augmented.users is not None or pc.any(pc.equal(entity, "user")).as_py()
    return replace(augmented, items=items, users=users if has_users else None)


def augment_split(
    split: Split,
    strategy: Strategy,
    filters: Sequence[QualityFilter],
    request: GenerationRequest,
    ctx: Context,
    *,
    generated: Generated | None = None,
) -> AugmentResult:
    """Augment ``split.train``; pass ``generated`` to re-filter rows generated earlier."""
    if generated is None:
        generated = generate_synthetic(strategy, split.train, request, ctx)
    result = apply_filters(filters, split.train, generated, ctx)
    check_kept(result.kept, split.train, strategy)
    return result


def _concat_or_empty(parts: list[pa.Table], empty: pa.Table) -> pa.Table:
    return pa.concat_tables(parts, promote_options="default") if parts else empty


def _empty_rejected() -> pa.Table:
    table = empty_interactions()
    for name in ("reason", "filter"):
        table = table.append_column(name, pa.array([], pa.string()))
    return table


def _count_by(table: pa.Table, column: str) -> dict[str, int]:
    if table.num_rows == 0:
        return {}
    counts = pc.value_counts(table.column(column).combine_chunks())
    return {row["values"]: row["counts"] for row in counts.to_pylist()}


def _distinct(table: pa.Table, column: str) -> int:
    return int(pc.count_distinct(table.column(column)).as_py()) if table.num_rows else 0
