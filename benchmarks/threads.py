"""Torch CPU threads for the generators, with and without another process keeping a core busy.

For each generator (`vae`, `gan`, `lora-gen`, default options unless ``-o NAME:KEY=VALUE``)
fit on DATA (default: the demo world of ``examples/experiments/demo.toml``) once per thread
count in ``--threads`` (``auto`` is the generators' default, ``recaug_modelkit.threads``),
first as the machine is, then with ``--spin`` busy-looping processes beside it. Prints fit
wall and CPU seconds and the 1-minute load average before and after each fit.

    python benchmarks/threads.py --threads auto,1,2 --spin 1

``--command "..."`` instead times one shell command (for instance
``recaug run examples/experiments/demo.toml --out runs/demo``) with the spinners running,
with no environment variable set for it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEMO = "demo:users=1000,items=500,interactions=30000"
GENERATORS = ("vae", "gan", "lora-gen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=DEMO, help="a data path, or demo:K=V,...")
    parser.add_argument("--threads", default="auto,1,2", help="thread counts, auto = default")
    parser.add_argument("--spin", type=int, default=1, help="busy processes in the loaded runs")
    parser.add_argument("--generators", default=",".join(GENERATORS))
    parser.add_argument("-o", "--option", action="append", default=[], help="NAME:KEY=VALUE")
    parser.add_argument("--command", help="time this shell command with the spinners instead")
    args = parser.parse_args()
    if args.command:
        time_command(args.command, args.spin)
        return
    extra: dict[str, dict[str, str]] = {}
    for item in args.option:
        name, pair = item.split(":", 1)
        key, value = pair.split("=", 1)
        extra.setdefault(name, {})[key] = value
    train = training_split(args.data)
    print(f"data: {args.data}: {len(train)} training rows, {train.n_users} users, "
          f"{train.n_items} items; CPUs usable: {usable()}")  # fmt: skip
    print("\n| generator | threads | busy processes beside | fit s | CPU s | load before | after |")
    print("|---|---|---|---|---|---|---|")
    for spinners in (0, args.spin):
        with spinning(spinners):
            for name in args.generators.split(","):
                for threads in args.threads.split(","):
                    options = dict(extra.get(name, {}))
                    if threads != "auto":
                        options["threads"] = threads
                    row = fit_once(name, options, train)
                    print(
                        f"| {name} | {threads} ({row['threads']}) | {spinners} | "
                        f"{row['wall']:.1f} | {row['cpu']:.1f} | {row['load_before']:.2f} | "
                        f"{row['load_after']:.2f} |",
                        flush=True,
                    )


def training_split(ref: str) -> Any:
    from recaug_core import split_dataset
    from recaug_core.loading import load_data

    if ref.startswith("demo:"):
        from recaug_sources.world import demo_world

        sizes = {k: int(v) for k, v in (p.split("=") for p in ref[5:].split(","))}
        data = demo_world(
            n_users=sizes["users"], n_items=sizes["items"], n_interactions=sizes["interactions"]
        )
    else:
        data = load_data(ref).dataset
    return split_dataset(data, seed=0).train


def fit_once(name: str, options: dict[str, str], train: Any) -> dict[str, Any]:
    from recaug_core import Context, create

    strategy = create("strategies", name, options)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(seed=0, work_dir=Path(tmp), show_progress=False)
        cpu, wall = cpu_seconds(), time.perf_counter()
        strategy.fit(train, ctx)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    threads = getattr(strategy, "threads_", None) or strategy.options.threads
    return {
        "wall": wall,
        "cpu": cpu,
        "threads": threads,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def time_command(command: str, spinners: int) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    with spinning(spinners):
        before = os.getloadavg()
        started = time.perf_counter()
        subprocess.run(shlex.split(command), env=env, check=True)
        wall = time.perf_counter() - started
        after = os.getloadavg()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"{command}: {wall:.1f} s wall, {children.ru_utime + children.ru_stime:.1f} s CPU, "
        f"{spinners} busy processes beside it; load average (1, 5, 15 min) before "
        f"{_load(before)}, after {_load(after)}"
    )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def usable() -> int:
    from recaug_modelkit.threads import usable_cpus

    return usable_cpus()


def _spin() -> None:
    while True:
        pass


@contextmanager
def spinning(count: int) -> Iterator[None]:
    """``count`` processes that keep a core busy until the block ends."""
    processes = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for process in processes:
        process.start()
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
            process.join()


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
