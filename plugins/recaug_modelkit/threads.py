"""How many CPU threads torch uses while a model trains or samples.

torch starts one intra-op thread per core. The generators' operations are many and small
(a batch of 128 users), and each ends at a barrier where every thread waits for the slowest:
when another process keeps one of the cores busy, that thread runs late at every barrier and
the whole fit slows down several times (CFGAN on the demo world: 150 s with two threads,
30 s with one, on 2 cores with another job running). So by default a model uses one thread
unless its steps are big enough for more to pay and the process may use at least
``MIN_CPUS`` CPUs; then half of them (at most ``MAX_THREADS``), leaving the rest to the
process's other work and its neighbours. ``threads`` (an option of each model) overrides it.
The choice depends only on the model and the machine, not on the load of the moment, so a
run and its ``--resume`` compute with the same threads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MIN_CPUS = 4
MAX_THREADS = 8
BIG_STEP = 2e9  # floating-point operations per optimiser step worth splitting


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def auto_threads(step_flops: float, cpus: int | None = None) -> int:
    """The default thread count for steps of ``step_flops`` operations."""
    cpus = usable_cpus() if cpus is None else cpus
    if step_flops < BIG_STEP or cpus < MIN_CPUS:
        return 1
    return min(cpus // 2, MAX_THREADS)


def resolve_threads(threads: int | None, step_flops: float) -> int:
    """The ``threads`` option, or ``auto_threads`` when it is unset."""
    return threads if threads is not None else auto_threads(step_flops)


@contextmanager
def cpu_threads(threads: int, device: Any = "cpu") -> Iterator[None]:
    """Run with ``threads`` torch threads when computing on the CPU (``device``, e.g. the
    run's ``ctx.accelerator().device``), then restore the caller's setting; on an
    accelerator torch's own setting stays."""
    import torch

    if torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
