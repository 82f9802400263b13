"""Turning a model's per-user item probabilities into synthetic rows.

Both generators hand over probability rows; sampling without replacement in proportion to
them is the Gumbel-top-k trick in its exponential form: the k largest of ``p / E``, with E
standard exponential (``log p - log E`` is ``log p`` plus Gumbel noise), are a draw of k
distinct items with the probabilities of successive sampling, vectorised over a whole batch.
Drawing E directly (no logarithms) and taking the k largest with ``torch.topk`` instead of
``np.argpartition`` is about four times faster than the Gumbel keys it replaced (0.75 s ->
0.18 s for 512 users x 18,357 items, one thread).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from recaug_core import (
    Context,
    Dataset,
    GenerationRequest,
    RecaugError,
    empty_interactions,
    synthetic_table,
    tail_items,
    target_users,
)

BATCH = 512

Probabilities = Callable[[np.ndarray], np.ndarray]


def sample_items(
    probabilities: np.ndarray,
    counts: np.ndarray,
    rng: np.random.Generator,
    blocked: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``counts[r]`` distinct items for each row ``r`` in proportion to its
    probabilities, never a ``blocked`` one; returns (row, item) of every draw, rows in order,
    each row's items in draw order. A row with fewer eligible items gets fewer."""
    import torch

    # float64: an exponential draw of exactly 0 would give an item an infinite key.
    keys = rng.standard_exponential(size=probabilities.shape)
    np.divide(probabilities, keys, out=keys)
    if blocked is not None:
        keys[blocked] = -np.inf
    depth = int(min(counts.max(initial=0), keys.shape[1]))
    if depth == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    best = torch.topk(torch.from_numpy(keys), depth, dim=1)  # largest first
    top, top_keys = best.indices.numpy(), best.values.numpy()
    wanted = (np.arange(depth)[None, :] < counts[:, None]) & np.isfinite(top_keys)
    rows = np.broadcast_to(np.arange(len(counts))[:, None], top.shape)
    return rows[wanted].astype(np.int64), top[wanted].astype(np.int64)


def blocked_rows(known: sp.csr_matrix, users: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """[len(users), n_items] mask of items a user already has (or outside ``allowed``)."""
    blocked = known[users].toarray() > 0
    if allowed is not None:
        blocked |= ~allowed[None, :]
    return blocked


def extend(
    probabilities: Probabilities,
    known: sp.csr_matrix,
    users: np.ndarray,
    per_user: int,
    budget: int | None,
    allowed: np.ndarray | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``per_user`` new items for each of ``users`` (a random subset of them when the
    budget is smaller): (user, item, probability) arrays."""
    if budget is not None:
        needed = -(-budget // per_user)
        users = np.sort(rng.permutation(users)[:needed])
    out_users, out_items, out_scores = [], [], []
    for start in range(0, len(users), BATCH):
        chunk = users[start : start + BATCH]
        probs = probabilities(chunk)
        blocked = blocked_rows(known, chunk, allowed)
        counts = np.full(len(chunk), per_user, dtype=np.int64)
        rows, items = sample_items(probs, counts, rng, blocked)
        out_users.append(chunk[rows])
        out_items.append(items)
        out_scores.append(probs[rows, items])
    return _trim(out_users, out_items, out_scores, budget)


def real_lengths_sample(
    lengths: np.ndarray, n_users: int | None, budget: int | None, cap: int, rng: np.random.Generator
) -> np.ndarray:
    """History lengths of new users drawn from the real (non-empty) lengths, at most ``cap``:
    ``n_users`` of them, or, under a budget, as many as fill it (the last one cut)."""
    pool = np.minimum(lengths[lengths > 0], cap)
    if len(pool) == 0 or cap == 0:
        return np.zeros(0, np.int64)
    if budget is None:
        return rng.choice(pool, size=n_users or 0).astype(np.int64)
    drawn = rng.choice(pool, size=max(1, budget // max(1, int(pool.min())) + 1))
    total = np.cumsum(drawn)
    n = int(np.searchsorted(total, budget)) + 1
    drawn = drawn[:n].astype(np.int64)
    if n and total[n - 1] > budget:
        drawn[-1] -= int(total[n - 1] - budget)
    if n_users is not None:
        drawn = drawn[:n_users]
    return drawn[drawn > 0]


def synthesize(
    probabilities: Callable[[int, int], tuple[np.ndarray, np.ndarray | None]],
    lengths: np.ndarray,
    allowed: np.ndarray | None,
    rng: np.random.Generator,
    real: sp.csr_matrix,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Items of new users ``0..len(lengths)-1``: ``probabilities(start, n)`` gives the rows of
    users start..start+n-1 and their parent user (or None); returns (new user, item,
    probability, parent) arrays, parent -1 where there is none.

    A new user whose item set equals a real user's (``real``) is a copy, not a new user: it
    is drawn again from its own probabilities, up to ``REDRAWS`` times, then left out.
    """
    real_sets = set_hashes(real)
    out_users, out_items, out_scores, out_parents = [], [], [], []
    for start in range(0, len(lengths), BATCH):
        counts = lengths[start : start + BATCH]
        probs, parents = probabilities(start, len(counts))
        blocked = None if allowed is None else np.broadcast_to(~allowed[None, :], probs.shape)
        rows, items = sample_items(probs, counts, rng, blocked)
        for _ in range(REDRAWS + 1):
            copies = _copies(rows, items, len(counts), probs.shape[1], real_sets)
            if not copies.any():
                break
            again = np.flatnonzero(copies)
            keep = ~copies[rows]
            redrawn_rows, redrawn = sample_items(
                probs[again], counts[again], rng, None if blocked is None else blocked[again]
            )
            rows = np.concatenate([rows[keep], again[redrawn_rows]])
            items = np.concatenate([items[keep], redrawn])
            order = np.argsort(rows, kind="stable")
            rows, items = rows[order], items[order]
        else:
            keep = ~_copies(rows, items, len(counts), probs.shape[1], real_sets)[rows]
            rows, items = rows[keep], items[keep]
        out_users.append(start + rows)
        out_items.append(items)
        out_scores.append(probs[rows, items])
        parent = np.full(len(counts), -1, np.int64) if parents is None else parents
        out_parents.append(parent[rows])
    users, items, scores = _trim(out_users, out_items, out_scores, None)
    parents = np.concatenate(out_parents) if out_parents else np.zeros(0, np.int64)
    return users, items, scores, parents


REDRAWS = 5


def set_hashes(matrix: sp.csr_matrix) -> np.ndarray:
    """64-bit fingerprints of the item sets of the non-empty rows of ``matrix``."""
    lengths = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    return _row_hashes(rows, matrix.indices, matrix.shape[0], matrix.shape[1])[lengths > 0]


def _row_hashes(rows: np.ndarray, items: np.ndarray, n: int, n_items: int) -> np.ndarray:
    # The sum of fixed random 64-bit codes of a row's items: order-free, collisions ~2^-64.
    codes = np.random.default_rng(0).integers(1, 2**63, size=n_items)
    sums = np.zeros(n, dtype=np.uint64)
    np.add.at(sums, rows, codes[items].astype(np.uint64))  # wraps modulo 2**64
    return sums


def _copies(
    rows: np.ndarray, items: np.ndarray, n: int, n_items: int, real_sets: np.ndarray
) -> np.ndarray:
    """Which of ``n`` sampled rows hold exactly the item set of some real user."""
    hashes = _row_hashes(rows, items, n, n_items)
    return np.isin(hashes, real_sets) & (np.bincount(rows, minlength=n) > 0)


def _trim(
    users: list[np.ndarray], items: list[np.ndarray], scores: list[np.ndarray], budget: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not users:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    u, i, s = np.concatenate(users), np.concatenate(items), np.concatenate(scores)
    if budget is not None:
        u, i, s = u[:budget], i[:budget], s[:budget]
    return u, i, s.astype(np.float32)


def new_user_ids(train: Dataset, prefix: str, n: int) -> pa.Array:
    """``prefix000001``... for ``n`` new users; refuses ids the data already uses."""
    ids = pa.array([f"{prefix}{k + 1:06d}" for k in range(n)], pa.string())
    clash = pc.is_in(ids, value_set=train.user_index.ids)
    if n and pc.any(clash).as_py():
        first = ids.filter(clash)[0].as_py()
        raise RecaugError(f"synthetic user id {first!r} already names a user in the data")
    return ids


def resolve_mode(mode: str, target: str, name: str) -> str:
    """``auto`` means synthesize for ``--target new`` and extend otherwise."""
    if mode == "auto":
        return "synthesize" if target == "new" else "extend"
    if mode == "extend" and target == "new":
        raise RecaugError(
            f"{name}: --target new asks for new users, which option mode=extend cannot make; "
            "use mode=synthesize or mode=auto"
        )
    return mode


def extend_table(
    train: Dataset, name: str, users: np.ndarray, items: np.ndarray, scores: np.ndarray
) -> pa.Table:
    """Rows added to real users: ``parent_user`` is the user itself."""
    user_ids = train.user_index.to_ids(users)
    return synthetic_table(
        user_ids, train.item_index.to_ids(items), name, parent_user=user_ids, score=scores
    )


def synthesize_table(
    train: Dataset,
    name: str,
    n_new: int,
    users: np.ndarray,
    items: np.ndarray,
    scores: np.ndarray,
    parents: np.ndarray,
) -> pa.Table:
    """Rows of new users ``syn-NAME-000001``...; ``parent_user`` null where ``parents`` is -1."""
    ids = new_user_ids(train, f"syn-{name}-", n_new).take(pa.array(users))
    parent_ids = train.user_index.to_ids(np.maximum(parents, 0))
    parent_ids = pc.if_else(pa.array(parents >= 0), parent_ids, pa.scalar(None, pa.string()))
    return synthetic_table(
        ids, train.item_index.to_ids(items), name, parent_user=parent_ids, score=scores
    )


def generate_rows(
    name: str,
    train: Dataset,
    matrix: sp.csr_matrix,
    options: Any,
    request: GenerationRequest,
    ctx: Context,
    user_scores: Callable[[np.ndarray], np.ndarray],
    new_user_scores: Callable[[int, int], tuple[np.ndarray, np.ndarray | None]],
) -> pa.Table:
    """What a generator strategy returns, whatever model scores the items.

    ``options`` carries ``mode``, ``per_user`` and ``new_users`` (``GenerationOptions``);
    ``user_scores(users)`` scores every item for real users (extend), and
    ``new_user_scores(start, n)`` scores items for ``n`` new users with their parents, -1 or
    None for none (synthesize).
    """
    mode = resolve_mode(options.mode, request.target, name)
    if request.budget == 0:
        return empty_interactions()
    allowed = tail_items(train) if request.target == "long-tail" else None
    rng = ctx.rng(name, mode)
    if mode == "extend":
        users, items, scores = extend(
            user_scores,
            matrix,
            target_users(train, request.target),
            options.per_user,
            request.budget,
            allowed,
            rng,
        )
        return extend_table(train, name, users, items, scores)
    lengths = real_lengths_sample(
        np.diff(matrix.indptr),
        None if request.budget is not None else options.new_users,
        request.budget,
        int(allowed.sum()) if allowed is not None else matrix.shape[1],
        rng,
    )
    new, items, scores, parents = synthesize(new_user_scores, lengths, allowed, rng, matrix)
    return synthesize_table(train, name, len(lengths), new, items, scores, parents)
