"""The bookkeeping of a training loop, shared by every model plugin.

The caller trains one epoch at a time and owns everything about *how* (batches, losses,
optimiser steps, extra views or phases); ``EarlyStopping`` owns *when to stop and what to
keep*, the same way for every backend:

- after each epoch it evaluates on validation (``validate()``, NDCG@10 ranked exactly as the
  final evaluation ranks), keeps the best epoch's weights, and stops after ``patience``
  epochs without improvement (0: never stops early);
- it records one history row per epoch (the caller's figures plus the validation metric) and
  shows them on the progress bar.

::

    stopping = EarlyStopping(ctx, "vae", options.epochs, options.patience,
                             validate=lambda: validation_ndcg(model), keep=model)
    for epoch in stopping:
        loss = train_one_epoch(epoch)
        stopping.record(epoch, loss=loss)
    stopping.finish()  # the best epoch's weights are back in `model`

Without ``validate`` it trains every epoch and the last one counts as the best. ``start`` and
``history`` continue a loop resumed from an epoch checkpoint; with validation the best epoch
and the epochs since are read back from ``history``, and ``best_weights`` (saved with the
checkpoint from ``stopping.best_weights``) are the weights it kept, so a resumed loop stops
and keeps exactly what an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from recaug_core import Context

VALID_METRIC = "ndcg@10"


class EarlyStopping:
    def __init__(
        self,
        ctx: Context,
        name: str,
        epochs: int,
        patience: int = 0,
        *,
        validate: Callable[[], float] | None = None,
        keep: Any = None,
        metric: str = VALID_METRIC,
        start: int = 0,
        history: list[dict[str, float]] | None = None,
        best_weights: dict[str, Any] | None = None,
    ) -> None:
        self.ctx, self.name, self.epochs, self.patience = ctx, name, epochs, patience
        self.validate, self.keep, self.metric = validate, keep, metric
        self.history: list[dict[str, float]] = history if history is not None else []
        self.epochs_run = start
        self.best_epoch = start
        self._best = -math.inf
        self._best_state: dict[str, Any] | None = best_weights
        self._stale = 0
        self._stopped = False
        if validate is not None:
            for row in self.history:
                self._track(int(row["epoch"]), row[metric], None)
        bar: dict[str, Any] = {"initial": start, "total": epochs, "desc": name, "unit": "epoch"}
        if self.stops_early:  # no time left to show: the loop ends when validation stalls
            bar["bar_format"] = "{l_bar}{bar}| {n_fmt}/{total_fmt} at most [{elapsed}{postfix}]"
        self._bar = ctx.progress(**bar)
        self._start = start

    def __iter__(self) -> Iterator[int]:
        # counted here rather than by iterating the bar: tqdm counts an item only when the
        # next is asked for, so a loop that stops early would leave its bar one short
        for epoch in range(self._start + 1, self.epochs + 1):
            if self._stopped:  # checked first: a resumed loop may have stopped already
                break
            yield epoch
            self._bar.update(1)

    @property
    def stops_early(self) -> bool:
        """Whether the loop may end before ``epochs`` (validation and a patience)."""
        return self.validate is not None and self.patience > 0

    @property
    def best_value(self) -> float | None:
        """The best validation figure (None when nothing is validated)."""
        return None if self.validate is None else self._best

    def record(self, epoch: int, **figures: float) -> dict[str, float]:
        """Close ``epoch``: validate, keep the weights if they are the best, log, and decide
        whether the loop stops. Returns the epoch's history row."""
        row = {"epoch": float(epoch), **figures}
        self.epochs_run = epoch
        if self.validate is None:
            self.best_epoch = epoch
        else:
            row[self.metric] = self.validate()
            self._track(epoch, row[self.metric], self.keep)
        self.history.append(row)
        shown = {k: f"{v:.4f}" for k, v in row.items() if k != "epoch"}
        if self.validate is not None:
            shown["best"] = f"{self._best:.4f}@{self.best_epoch}"
        if self._stopped:  # the bar ends where training did, saying why
            shown["stopped"] = f"no gain in {self.patience} epochs"
            self._bar.total = epoch
        self._bar.set_postfix(shown)
        return row

    @property
    def best_weights(self) -> dict[str, Any] | None:
        """A copy of the best epoch's weights of ``keep`` (None without validation or
        ``keep``); an epoch checkpoint saves them for a resumed loop."""
        return self._best_state

    def _track(self, epoch: int, value: float, keep: Any) -> None:
        if value > self._best:
            self._best, self.best_epoch, self._stale = value, epoch, 0
            if keep is not None:
                self._best_state = {k: v.detach().clone() for k, v in keep.state_dict().items()}
        else:
            self._stale += 1
        self._stopped = bool(self.patience) and self._stale >= self.patience

    def finish(self) -> None:
        """Close the progress bar and put the best epoch's weights back into ``keep``."""
        self._bar.close()
        if self._best_state is not None:
            self.keep.load_state_dict(self._best_state)
