"""The core's checks of what plugin code hands back, before anything is written.

A plugin is code the core does not control. A strategy may return NaN scores, blank or unknown
ids, or times before 1970; a filter may return rows it was never given, or pass synthetic rows
off as real by rewriting ``origin``; a backend may score with NaN. Any of these would reach
``augmented.parquet`` or the metrics looking like data. Each check raises a PluginFailure that
names the plugin, the stage and the first offending row: the stage fails, and its run is marked
failed, never done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recaug_core.data import Dataset
from recaug_core.errors import DataError, shown
from recaug_core.registry import call_plugin, plugin_failure
from recaug_core.schema import TEXT_SCHEMA, check_values

# What identifies a synthetic row: a filter keeps or rejects rows, and may only set their score
# (its confidence); every other standard column must come back as it was given.
ROW_IDENTITY = ("user_id", "item_id", "rating", "timestamp", "origin", "parent_user")
TEXT_IDENTITY = tuple(TEXT_SCHEMA.names)
ROW_MARK = "__recaug_row"


def check_generated(table: pa.Table, strategy: Any) -> None:
    """A strategy's rows as generated: values that are never right (NaN or infinite numbers,
    empty or blank ids, times outside 1970..9999). Ids the catalog lacks may still be rejected
    by a filter (``catalog``): ``check_kept`` refuses them once the filters are done."""
    try:
        check_values(table)
    except DataError as error:
        raise plugin_failure(strategy, "generate", f"generated an invalid row: {error}") from None


def check_kept(kept: pa.Table, train: Dataset, strategy: Any) -> None:
    """The synthetic rows about to join the training data: every item in the catalog, every
    parent a training user. (A user id the training data lacks is a new synthetic user,
    which strategies may make.)"""
    items = kept.column("item_id")
    unknown = np.flatnonzero(train.item_index.lookup(items) < 0)
    if len(unknown):
        value = shown(items[int(unknown[0])].as_py())
        raise plugin_failure(
            strategy,
            "generate",
            f"generated {len(unknown)} kept rows with items not in the catalog (item_id "
            f"{value}, ...); add --filter catalog to reject such rows",
        )
    parents = kept.column("parent_user")
    missing = np.asarray(parents.is_null().to_numpy(), dtype=bool)
    orphans = np.flatnonzero((train.user_index.lookup(parents) < 0) & ~missing)
    if len(orphans):
        value = shown(parents[int(orphans[0])].as_py())
        raise plugin_failure(
            strategy,
            "generate",
            f"generated {len(orphans)} kept rows whose parent_user is not a training user "
            f"(parent_user {value}, ...); add --filter catalog to reject such rows",
        )


def check_filtered(
    given: pa.Table,
    kept: pa.Table,
    rejected: pa.Table,
    flt: Any,
    stage: str,
    identity: Sequence[str] = ROW_IDENTITY,
) -> None:
    """A filter's result: the rows it was given, each either kept or rejected, unchanged but
    for their score. ``origin`` gets its own message: rewriting it launders synthetic rows."""
    if kept.num_rows + rejected.num_rows != given.num_rows:
        raise plugin_failure(
            flt,
            stage,
            f"kept {kept.num_rows} and rejected {rejected.num_rows} of {given.num_rows} rows: "
            "every row must be either kept or rejected",
        )
    for name, part in (("kept", kept), ("rejected", rejected)):
        missing = [c for c in identity if c not in part.column_names]
        if missing:
            raise plugin_failure(flt, stage, f"returned {name} rows without column '{missing[0]}'")
    if "origin" in identity:
        allowed = pc.unique(given.column("origin"))
        changed = pc.invert(pc.is_in(kept.column("origin"), value_set=allowed))
        if pc.any(changed).as_py():
            row = int(np.flatnonzero(np.asarray(changed.to_numpy(zero_copy_only=False)))[0])
            raise plugin_failure(
                flt,
                stage,
                f"changed the origin of kept row {row + 1} to "
                f"{shown(kept.column('origin')[row].as_py())}: a filter keeps or rejects rows, "
                "it never changes where they come from",
            )
    if not _same_rows(given, [kept, rejected], identity):
        what = ", ".join(c for c in identity if c != "origin")
        raise plugin_failure(
            flt,
            stage,
            f"returned rows it was not given, or changed their {what}: a filter may only keep "
            "or reject the rows it gets (and set their score)",
        )


def mark_rows(table: pa.Table) -> pa.Table:
    """``table`` with each row's position in ``ROW_MARK``: a filter's result is then matched
    to what it was given in linear time (a filter that rebuilds its tables loses the mark, and
    its rows are matched by sorting instead)."""
    return table.append_column(ROW_MARK, pa.array(np.arange(table.num_rows, dtype=np.int64)))


def unmark(table: pa.Table) -> pa.Table:
    return table.drop_columns([ROW_MARK]) if ROW_MARK in table.column_names else table


def _same_rows(given: pa.Table, parts: list[pa.Table], identity: Sequence[str]) -> bool:
    """Whether ``parts`` together hold exactly ``given``'s rows (as a multiset, on
    ``identity``): by their row marks where they kept them, else both sides sorted."""
    schema = given.select(identity).schema
    try:
        returned = pa.concat_tables([p.select(identity).cast(schema) for p in parts])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    if all(ROW_MARK in t.column_names for t in (given, *parts)):
        try:
            marks = np.concatenate(
                [np.asarray(p.column(ROW_MARK).to_numpy(), dtype=np.int64) for p in parts]
            )
        except (TypeError, ValueError, pa.ArrowInvalid):
            marks = None
        if marks is not None:
            n = given.num_rows
            if len(marks) and (marks.min() < 0 or marks.max() >= n):
                return False
            if np.bincount(marks, minlength=n).max(initial=1) != 1:
                return False  # a row twice, so another one missing
            return bool(given.select(identity).take(pa.array(marks)).equals(returned))
    order = [(name, "ascending") for name in identity]
    return bool(given.select(identity).sort_by(order).equals(returned.sort_by(order)))


def checked_scores(model: Any, n_items: int) -> Callable[[np.ndarray], np.ndarray]:
    """``model.score`` run as plugin code and checked: one finite-or-infinite score per item
    for each user asked about. NaN would rank as noise and still yield plausible metrics."""

    def score(users: np.ndarray) -> np.ndarray:
        raw = call_plugin(model, "score", lambda: model.score(users))
        try:
            scores = np.asarray(raw, dtype=np.float32)
        except (TypeError, ValueError):
            raise plugin_failure(
                model, "score", f"returned {type(raw).__name__}, not an array of numbers"
            ) from None
        if scores.shape != (len(users), n_items):
            raise plugin_failure(
                model,
                "score",
                f"returned scores of shape {scores.shape} for {len(users)} users and "
                f"{n_items} items; expected ({len(users)}, {n_items})",
            )
        nan = np.isnan(scores)
        if nan.any():
            user, item = (int(i[0]) for i in np.nonzero(nan))
            raise plugin_failure(
                model,
                "score",
                f"returned NaN scores ({int(nan.sum()):,} of {nan.size:,}; the first for user "
                f"index {int(users[user])}, item index {item})",
            )
        return scores

    return score
