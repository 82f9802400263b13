"""What a component gets at run time: seed, scratch folder, progress bars, an Accelerator.

Nothing here imports torch until a component asks for it.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recaug_core.files import confined

TICK_S = 1.0  # how often ``activity`` shows the time so far


def progress_setting() -> str:
    """``RECAUG_PROGRESS``: ``off`` (0), ``on`` (1: bars even where stderr is no terminal) or
    ``auto`` (unset: bars on a terminal or in a notebook, one line per finished bar in a log).
    ``recaug --quiet`` sets it to 0."""
    value = os.environ.get("RECAUG_PROGRESS", "").strip().lower()
    if value in {"0", "false", "no", "off"}:
        return "off"
    if value in {"1", "true", "yes", "on"}:
        return "on"
    return "auto"


def progress_enabled() -> bool:
    return progress_setting() != "off"


def interactive(stream: Any = None) -> bool:
    """Whether progress may redraw itself: ``stream`` (stderr) is a terminal, a notebook runs
    us, or ``RECAUG_PROGRESS=1`` asks for bars anyway. A log file gets no ``\r`` frames."""
    stream = sys.stderr if stream is None else stream
    if progress_setting() == "on" or "ipykernel" in sys.modules:
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@contextlib.contextmanager
def activity(label: str) -> Iterator[None]:
    """On a terminal, ``label`` with the seconds it has taken so far, then how long it took.

    For the long steps that have no loop to show a bar for (reading a 25-million-row file is
    one call into Arrow): without it such a step is silent for a minute. Nothing is shown when
    progress is off (``RECAUG_PROGRESS=0``), when stderr is not a terminal, or for a step
    shorter than ``TICK_S``.
    """
    stream = sys.stderr
    if not (progress_enabled() and stream.isatty()):  # a clock in a log would say nothing
        yield
        return
    started = time.monotonic()
    finished = threading.Event()

    def tick() -> None:
        while not finished.wait(TICK_S):
            stream.write(f"\r{label} ... {time.monotonic() - started:.0f} s")
            stream.flush()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        finished.set()
        ticker.join()
        elapsed = time.monotonic() - started
        if elapsed >= TICK_S:
            stream.write(f"\r{label}: {elapsed:.1f} s\n")
            stream.flush()


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and (only if already imported) torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def stable_hash(*keys: object) -> int:
    return zlib.crc32("\x1f".join(map(str, keys)).encode())


def derived_seed(seed: int, *keys: object) -> int:
    """A seed for ``keys`` under ``seed`` (for torch's generators): each use (an epoch, an
    initialisation, a batch) draws from its own stream, so a resumed run draws exactly what
    an uninterrupted one would without saving any random state."""
    return (seed * 1_000_003 + stable_hash(*keys)) % 2**63


def torch_generator(seed: int, *keys: object) -> Any:
    """A CPU ``torch.Generator`` seeded with ``derived_seed(seed, *keys)``."""
    import torch

    gen = torch.Generator()
    gen.manual_seed(derived_seed(seed, *keys))
    return gen


@dataclass
class Context:
    """What a component gets at run time (``fit(train, ctx)``): seed, folders, progress, devices.

    ``seed`` makes every run reproducible; ``rng(name)`` gives independent, stable streams.
    ``work_dir`` holds checkpoints (``checkpoint_dir(name)``), and ``resume`` says whether
    to continue from them. ``mixed_precision`` and ``cpu`` configure ``accelerator()``.
    ``merge`` is the merge policy a backend's ``fit`` trains under (``recaug_core.merge``;
    None: ``concat``): walk ``training_phases(train, ctx.merge)``. ``label`` says which fit
    this is (``baseline, seed 0``): every progress bar's description carries it.
    """

    seed: int = 0
    work_dir: Path | None = None
    resume: bool = False
    show_progress: bool = field(default_factory=progress_enabled)
    mixed_precision: str = "no"
    cpu: bool = False
    # a recaug_core.merge.MergePolicy; typed loosely because that module builds on the API,
    # which builds on this one
    merge: Any = None
    label: str | None = None
    _accelerator: Any = field(default=None, repr=False)
    _tmp: Any = field(default=None, repr=False)

    def rng(self, *keys: object) -> np.random.Generator:
        """An independent numpy generator for ``keys`` under this run's seed."""
        return np.random.default_rng([self.seed, stable_hash(*keys)])

    def checkpoint_dir(self, name: str) -> Path:
        if self.work_dir is None:
            self._tmp = self._tmp or tempfile.TemporaryDirectory(prefix="recaug-")
            self.work_dir = Path(self._tmp.name)
        path = confined(self.work_dir, "checkpoints", name)  # a name is a plugin's choice
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def draws_progress(self) -> bool:
        """Whether a library's own progress bar (``show_progress_bar=...``) may be drawn: the
        bars are on, this is the main process, and stderr redraws (``interactive``)."""
        return self.show_progress and self.is_main_process and interactive()

    def progress(self, iterable: Iterable[Any] | None = None, **kwargs: Any) -> Any:
        """A tqdm progress bar on stderr: drawn on a terminal (or in a notebook); where stderr
        is a log, nothing while it runs and one line when it closes (``LogBar``); silent when
        progress is off or on a non-main process. Its description carries ``label``."""
        if self.label and kwargs.get("desc"):
            kwargs["desc"] = f"{kwargs['desc']} ({self.label})"
        disable = not self.show_progress or not self.is_main_process
        kwargs.setdefault("dynamic_ncols", True)
        kwargs.setdefault("leave", False)
        if disable or interactive():
            from tqdm.auto import tqdm

            return tqdm(iterable, file=sys.stderr, disable=disable, **kwargs)
        return log_bar(iterable, **kwargs)

    def log(self, message: str) -> None:
        if self.show_progress and self.is_main_process:
            print(message, file=sys.stderr)

    @property
    def is_main_process(self) -> bool:
        if self._accelerator is not None:
            return bool(self._accelerator.is_main_process)
        return os.environ.get("RANK", "0") == "0"

    def accelerator(self) -> Any:
        """The run's ``accelerate.Accelerator`` (created on first use, then shared)."""
        if self._accelerator is None:
            from accelerate import Accelerator
            from accelerate.utils import set_seed

            self._accelerator = Accelerator(mixed_precision=self.mixed_precision, cpu=self.cpu)
            set_seed(self.seed)
        return self._accelerator

    def torch_generator(self, *keys: object) -> Any:
        """A seeded ``torch.Generator`` for ``keys`` (CPU) under this run's seed."""
        return torch_generator(self.seed, *keys)


def log_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> Any:
    """A progress bar for a log: counts like tqdm, draws nothing, and on ``close`` writes one
    line with where it ended (``lightgcn (baseline, seed 0): 31/200 epoch in 00:12 (loss=...)``)."""
    import io

    from tqdm.std import tqdm

    class LogBar(tqdm):
        _said = False

        def close(self) -> None:
            if not self._said and not self.disable:
                self._said = True
                line = self.summary()
                super().close()
                if line:
                    print(line, file=sys.stderr, flush=True)
                return
            super().close()

        def summary(self) -> str:
            figures = self.format_dict
            total = figures["total"]
            if total == 0:
                return ""
            count = f"{figures['n']:,}" + (f"/{total:,}" if total else "")
            elapsed = self.format_interval(figures["elapsed"])
            said = f"{figures['prefix'] or 'done'}: {count} {figures['unit']} in {elapsed}"
            return said + (f" ({figures['postfix']})" if figures["postfix"] else "")

    kwargs["file"] = io.StringIO()  # the frames go nowhere
    kwargs["mininterval"] = float("inf")
    kwargs.pop("dynamic_ncols", None)
    return LogBar(iterable, **kwargs)
