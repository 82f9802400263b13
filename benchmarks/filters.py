"""Benchmark: every bundled quality filter, chained, on 100,000 synthetic rows.

Run on demand (never in CI):

    python benchmarks/filters.py /work/data/ml-100k/ml-100k.inter --source table -s format=tsv

Without DATA it uses the `demo` world. The synthetic rows are a realistic mix: rows added to
real users (items drawn by popularity), new `syn-` users built from a parent's items plus
popular ones, and a sprinkle of bad rows (unknown items, repeats, copies of real users).
The plausibility backend is trained once before timing (its training is excluded, as the
target says; it is reported separately), then the whole chain runs ``--repeats`` times and
the median seconds per filter and in total are printed, with peak memory at several sizes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc

import numpy as np
import pyarrow as pa

from recaug_app.commands.common import option_pairs
from recaug_core import Context, Dataset, create, split_dataset, synthetic_table
from recaug_core.loading import load_data
from recaug_core.pipeline import Generated, apply_filters


def chain(backend: str) -> list[tuple[str, dict[str, object]]]:
    return [
        ("dedupe", {}),
        ("catalog", {}),
        ("privacy", {}),
        ("diversity", {}),
        ("plausibility", {"backend": backend}),
        ("popularity", {}),
    ]


def synthetic_rows(train: Dataset, n_rows: int, seed: int = 0) -> pa.Table:
    """``n_rows`` synthetic rows: 60% for real users, 38% new users, 2% planted bad rows."""
    rng = np.random.default_rng(seed)
    users, items = train.real().codes()
    popularity = train.real().item_popularity().astype(np.float64) + 1.0
    p = popularity / popularity.sum()
    active = np.unique(users)
    n_real = int(0.6 * n_rows)
    n_bad = int(0.02 * n_rows)
    n_new = n_rows - n_real - n_bad

    real_users = rng.choice(active, n_real)
    real_items = rng.choice(train.n_items, n_real, p=p)

    per_user = 20
    parents = rng.choice(active, -(-n_new // per_user))
    new_user = np.repeat(np.arange(len(parents)), per_user)[:n_new]
    # half of a new user's items come from its parent's history, half from popularity
    order = np.argsort(users, kind="stable")
    starts = np.searchsorted(users[order], parents)
    lengths = np.bincount(users, minlength=train.n_users)[parents]
    pick = starts[new_user] + rng.integers(0, lengths[new_user])
    from_parent = rng.random(n_new) < 0.5
    new_items = np.where(from_parent, items[order][pick], rng.choice(train.n_items, n_new, p=p))

    copy_user = rng.choice(active)
    copied = items[users == copy_user]
    n_copy = min(len(copied), n_bad // 2)
    n_ghost = n_bad - n_copy
    user_ids = train.user_index.ids.to_numpy(zero_copy_only=False)
    item_ids = train.item_index.ids.to_numpy(zero_copy_only=False)
    all_users = np.concatenate(
        [
            user_ids[real_users],
            np.char.add("syn-", new_user.astype(str)).astype(object),
            np.full(n_copy, "syn-copy", dtype=object),
            user_ids[rng.choice(active, n_ghost)],
        ]
    )
    all_items = np.concatenate(
        [
            item_ids[real_items],
            item_ids[new_items],
            item_ids[copied[:n_copy]],
            np.char.add("ghost-", np.arange(n_ghost).astype(str)).astype(object),
        ]
    )
    all_parents = np.concatenate(
        [
            user_ids[real_users],
            user_ids[parents[new_user]],
            np.full(n_copy, user_ids[copy_user], dtype=object),
            np.full(n_ghost, None, dtype=object),
        ]
    )
    return synthetic_table(
        pa.array(all_users, pa.string()),
        pa.array(all_items, pa.string()),
        "bench",
        parent_user=pa.array(all_parents, pa.string()),
    )


def run_chain(
    filters: list, train: Dataset, rows: pa.Table, ctx: Context
) -> tuple[dict[str, float], dict[str, int]]:
    """Seconds and rows kept per filter, applied in order through the pipeline's own code."""
    seconds: dict[str, float] = {}
    kept_rows: dict[str, int] = {}
    kept = rows
    for flt in filters:
        started = time.perf_counter()
        result = apply_filters([flt], train, Generated(kept), ctx)
        seconds[flt.name] = time.perf_counter() - started
        kept = result.kept
        kept_rows[flt.name] = kept.num_rows
    seconds["total"] = sum(seconds.values())
    kept_rows["total"] = kept.num_rows
    return seconds, kept_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="demo")
    parser.add_argument("--source", default=None)
    parser.add_argument("-s", "--source-option", action="append", default=[])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", default="pop", help="plausibility backend (default: pop)")
    args = parser.parse_args()
    os.environ.setdefault("RECAUG_PROGRESS", "0")

    loaded = load_data(
        args.data,
        source=args.source,
        source_options=option_pairs(args.source_option, "--source-option"),
    )
    split = split_dataset(loaded.dataset, seed=0)
    train = split.train
    ctx = Context(seed=0, show_progress=False)
    filters = [create("filters", name, options) for name, options in chain(args.backend)]
    rows = synthetic_rows(train, args.rows)
    print(
        f"data: {args.data}  train rows: {len(train)}  users: {train.n_users}  "
        f"items: {train.n_items}  synthetic rows: {rows.num_rows}"
    )

    started = time.perf_counter()
    _, kept = run_chain(filters, train, rows, ctx)  # trains and caches the plausibility backend
    print(
        f"first pass incl. backend '{args.backend}' training: {time.perf_counter() - started:.2f} s"
    )

    runs = [run_chain(filters, train, rows, ctx)[0] for _ in range(args.repeats)]
    print(f"\nmedian of {args.repeats} runs (backend training excluded); rows left after each")
    for name in [*[f.name for f in filters], "total"]:
        median = statistics.median(r[name] for r in runs)
        print(f"  {name:<13} {median:7.3f} s  {kept[name]:>8} rows")

    print("\npeak Python-heap memory of the chain (tracemalloc, numpy included):")
    for n in (args.rows // 4, args.rows, args.rows * 4):
        part = synthetic_rows(train, n)
        tracemalloc.start()
        run_chain(filters, train, part, ctx)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  {n:>8} rows  {peak / 2**20:8.1f} MiB")
    with open("/proc/loadavg") as loadavg:
        print(f"\nload average: {' '.join(loadavg.read().split()[:3])}")


if __name__ == "__main__":
    main()
