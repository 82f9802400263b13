"""Validation for a generator, carved from its training rows.

A strategy is handed the training split only, never validation or test rows, so a generator
that wants to stop early validates on training rows it holds back from itself: a share of the
users (``valid_share``, at most ``MAX_USERS``) each set aside a fifth of their distinct items
(at least one, and never all). The model trains on the rest; after each epoch it ranks every
catalog item for those users, their remaining training items masked, and NDCG@10 over the
set-aside items decides when to stop (``recaug_modelkit.early_stopping``). This is the same
question the generator answers when it extends a user: which unseen items belong to them.

Fewer than ``MIN_USERS`` such users give a figure too noisy to stop on (on a 200-user world,
17 validation users saw CFGAN's NDCG@10 stall for six epochs, then double): then nothing is
held back and every epoch is trained, as small data trains fast anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from recaug_core import Context, Dataset, RankingTask, arrays, derived_seed

MAX_USERS = 5000  # enough for a steady NDCG@10; more only costs ranking time every epoch
MIN_USERS = 300
HELD_SHARE = 0.2


@dataclass
class Holdout:
    fit: Dataset  # the real training rows less the held-out ones
    task: RankingTask | None  # ranks the held-out users; None when nobody is held out
    rows: int  # held-out interaction rows


def hold_out(train: Dataset, share: float, seed: int) -> Holdout:
    """Split ``train``'s real rows into a part to fit on and a validation ranking task; the
    same ``seed`` holds back the same rows for every generator."""
    rng = np.random.default_rng(derived_seed(seed, "holdout"))
    real = train.real()
    users, items = real.codes()
    n_items = train.n_items
    keys = arrays.unique(users * n_items + items)  # distinct (user, item) pairs, by user
    owners = keys // n_items
    lengths = np.bincount(owners, minlength=train.n_users)
    eligible = np.flatnonzero(lengths >= 2)
    n_valid = min(MAX_USERS, round(share * len(eligible)))
    if n_valid < MIN_USERS:
        return Holdout(real, None, 0)
    chosen = np.zeros(train.n_users, dtype=bool)
    chosen[rng.choice(eligible, size=n_valid, replace=False)] = True
    pairs = keys[chosen[owners]]
    pair_users = pairs // n_items
    # A random rank of each pair within its user; the lowest ranks are held out.
    order = np.lexsort((rng.random(len(pairs)), pair_users))
    starts = np.searchsorted(pair_users[order], pair_users[order], side="left")
    rank_in_user = np.arange(len(pairs)) - starts
    n_held = np.maximum(1, np.floor(HELD_SHARE * lengths[pair_users[order]])).astype(np.int64)
    held = np.sort(pairs[order][rank_in_user < n_held])
    in_held = arrays.isin(users * n_items + items, held, candidates_sorted=True)
    table = real.interactions
    fit = train.with_interactions(table.filter(pa.array(~in_held)))
    valid = train.with_interactions(table.filter(pa.array(in_held)))
    return Holdout(fit, RankingTask.for_validation(fit, valid), int(in_held.sum()))


def announced_hold_out(name: str, train: Dataset, share: float, seed: int, ctx: Context) -> Holdout:
    """``hold_out``, saying in the log what generator ``name`` validates on."""
    holdout = hold_out(train, share, seed)
    if holdout.task is not None:
        ctx.log(
            f"{name}: validating on {holdout.rows} training rows held back from "
            f"{len(holdout.task.users)} users"
        )
    return holdout


def training_summary(fitted: Any, holdout: Holdout) -> dict[str, Any]:
    """What a generator strategy keeps of its fit (``training_``): epochs, the best one, the
    held-back rows and the epoch history."""
    return {
        "epochs_run": fitted.epochs_run,
        "best_epoch": fitted.best_epoch,
        "held_back_rows": holdout.rows,
        "history": fitted.history,
    }
