"""Scale: load -> clean -> split -> dedupe filter -> write Parquet on a synthetic ML-25M.

Builds a MovieLens-25M-shaped ``ratings.csv`` (about 162k users, 59k items, ratings 0.5-5 in
half stars, timestamps 1995-2019, power-law activity and popularity) in a temporary folder,
then runs recaug's own stages on it in a fresh process and prints wall time per stage and
peak resident memory. Run on demand, never in CI::

    python benchmarks/scale.py                      # 25M interactions
    python benchmarks/scale.py --rows 5e6 12.5e6 25e6   # several sizes, memory per row
    python benchmarks/scale.py --format parquet     # read a Parquet file instead of CSV
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_USERS, N_ITEMS = 162_541, 59_047
FIRST_TIME, LAST_TIME = 789_652_009, 1_574_327_703  # the span of MovieLens-25M


def build(folder: Path, rows: int, fmt: str, seed: int = 0) -> Path:
    """Write ``rows`` synthetic ratings in MovieLens-25M's layout; return the file."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    users, items = _unique_pairs(rng, rows)
    table = pa.table(
        {
            "userId": users + 1,
            "movieId": items + 1,
            "rating": rng.integers(1, 11, rows) / 2.0,
            "timestamp": rng.integers(FIRST_TIME, LAST_TIME, rows),
        }
    )
    path = folder / f"ratings.{fmt}"
    if fmt == "csv":
        options = pcsv.WriteOptions(quoting_style="none")
        pcsv.write_csv(table, path, write_options=options)
    else:
        pq.write_table(table, path)
    return path


def _unique_pairs(rng: np.random.Generator, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) pairs sorted like ratings.csv: at least 20 ratings per user,
    power-law activity and item popularity."""
    n_users = max(1, round(N_USERS * rows / 25_000_000))
    activity = 1.0 / np.arange(1, n_users + 1) ** 0.5  # the busiest user rates ~27k of 59k
    extra = np.floor(activity / activity.sum() * max(0, rows - 20 * n_users)).astype(np.int64)
    counts = np.minimum(20 + extra, N_ITEMS // 2)
    short = rows - int(counts.sum())  # rounding: one more rating for as many users as needed
    if short > 0:
        np.add.at(counts, np.arange(short) % n_users, 1)
    rng.shuffle(counts)
    users = np.repeat(np.arange(n_users, dtype=np.int64), counts)[:rows]
    popularity = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.9
    popularity /= popularity.sum()
    items = rng.choice(N_ITEMS, len(users), p=popularity)
    while True:  # redraw the items of repeated pairs until every pair is distinct
        keys = users * N_ITEMS + items
        order = np.argsort(keys, kind="stable")  # (np.unique is slow on numpy 2.4)
        later = np.r_[False, keys[order][1:] == keys[order][:-1]]
        if not later.any():
            break
        repeated = order[later]
        items[repeated] = rng.integers(0, N_ITEMS, len(repeated))
    order = np.lexsort((items, users))
    return users[order], items[order]


def run_stages(path: Path, out: Path) -> dict[str, object]:
    """The measured part, in a fresh process: every stage through recaug's own code."""
    import pyarrow as pa

    from recaug_core import Context, create, split_dataset, synthetic_table
    from recaug_core.clean import clean
    from recaug_core.files import write_parquet
    from recaug_core.loading import pick_source

    stages: list[dict[str, object]] = []

    cpu = time.process_time()

    def measure(name: str, started: float) -> None:
        nonlocal cpu
        used, cpu = time.process_time() - cpu, time.process_time()
        stages.append(
            {
                "stage": name,
                "seconds": round(time.perf_counter() - started, 2),
                "cpu_seconds": round(used, 2),
                **_memory(),
            }
        )

    ref = str(path if path.suffix == ".parquet" else path.parent)
    started = time.perf_counter()
    source = pick_source(ref)
    data = source().load(ref)
    measure(f"load ({source.name})", started)

    started = time.perf_counter()
    data, report = clean(data)
    measure("clean", started)

    started = time.perf_counter()
    split = split_dataset(data, seed=0)
    measure("split", started)

    started = time.perf_counter()
    rng = np.random.default_rng(1)
    train = split.train
    n_synthetic = len(train) // 10
    users = train.user_index.to_ids(rng.integers(0, train.n_users, n_synthetic))
    items = train.item_index.to_ids(rng.integers(0, train.n_items, n_synthetic))
    synthetic = synthetic_table(users, items, "scale")
    ctx = Context(seed=0, work_dir=out, show_progress=False)
    result = create("filters", "dedupe").apply(train, synthetic, ctx)
    measure("dedupe filter", started)

    started = time.perf_counter()
    write_parquet(out / "split.parquet", split.table)
    write_parquet(
        out / "augmented.parquet",
        pa.concat_tables([train.interactions, result.kept], promote_options="default"),
    )
    measure("write parquet", started)
    return {
        "rows_loaded": report["rows_in"],
        "rows_after_clean": report["rows_out"],
        "users": data.n_users,
        "items": data.n_items,
        "synthetic": n_synthetic,
        "kept": result.kept.num_rows,
        "stages": stages,
        **_memory(),
    }


def _memory() -> dict[str, float]:
    """Current and peak resident memory of this process, in GiB (Linux /proc)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / (1 << 20)
    return {"rss_gib": round(fields["VmRSS"], 2), "peak_gib": round(fields["VmHWM"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, nargs="+", default=[25e6])
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep the files")
    parser.add_argument("--measure", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        out = Path(args.measure).parent / "out"
        print(json.dumps(run_stages(Path(args.measure), out)))
        return
    print(f"machine: {os.cpu_count()} CPUs, load average {_loadavg()}")
    for rows in (int(r) for r in args.rows):
        with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
            folder = Path(tmp) / "ml-25m-synthetic"
            folder.mkdir()
            started = time.perf_counter()
            path = build(folder, rows, args.format)
            size = path.stat().st_size / (1 << 20)
            print(
                f"\n{rows:,} rows: built {path.name} ({size:,.0f} MiB) in "
                f"{time.perf_counter() - started:.1f} s"
            )
            done = subprocess.run(
                [sys.executable, __file__, "--measure", str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                sys.exit(done.stderr)
            report(json.loads(done.stdout.splitlines()[-1]), rows)


def report(result: dict[str, object], rows: int) -> None:
    print(
        f"  {result['rows_loaded']:,} loaded, {result['rows_after_clean']:,} after cleaning, "
        f"{result['users']:,} users, {result['items']:,} items; dedupe kept "
        f"{result['kept']:,} of {result['synthetic']:,} synthetic rows"
    )
    total = cpu = 0.0
    for stage in result["stages"]:  # type: ignore[attr-defined]
        total += stage["seconds"]
        cpu += stage["cpu_seconds"]
        print(
            f"  {stage['stage']:<16} {stage['seconds']:7.2f} s  (CPU {stage['cpu_seconds']:6.2f} s)"
            f"   RSS {stage['rss_gib']:5.2f} GiB   peak {stage['peak_gib']:5.2f} GiB"
        )
    peak = float(result["peak_gib"])  # type: ignore[arg-type]
    print(
        f"  total {total:.1f} s (CPU {cpu:.1f} s), peak RSS {peak:.2f} GiB "
        f"({peak * (1 << 30) / rows:.0f} bytes per interaction), load average {_loadavg()}"
    )


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
