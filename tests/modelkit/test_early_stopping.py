"""One early-stopping loop for every model plugin, and one meaning of `patience`."""

from __future__ import annotations

import pytest
import torch

from recaug_core import Context, component_class
from recaug_modelkit.early_stopping import EarlyStopping

SCORES = [0.1, 0.3, 0.2, 0.2, 0.25, 0.1]  # validation NDCG@10 per epoch: best at epoch 2


def train(patience: int, *, validate: bool = True) -> tuple[EarlyStopping, torch.nn.Linear]:
    """A fake training: epoch N sets every weight to N."""
    model = torch.nn.Linear(2, 1)
    epoch_now = [0]
    stopping = EarlyStopping(
        Context(show_progress=False),
        "fake",
        len(SCORES),
        patience,
        validate=(lambda: SCORES[epoch_now[0] - 1]) if validate else None,
        keep=model,
    )
    for epoch in stopping:
        epoch_now[0] = epoch
        with torch.no_grad():
            model.weight.fill_(epoch)
        stopping.record(epoch, loss=1.0 / epoch)
    stopping.finish()
    return stopping, model


def test_stops_after_patience_epochs_without_improvement_and_keeps_the_best_weights():
    stopping, model = train(patience=2)
    assert stopping.epochs_run == 4  # epochs 3 and 4 did not beat epoch 2
    assert stopping.best_epoch == 2 and stopping.best_value == pytest.approx(0.3)
    assert torch.all(model.weight == 2)
    assert [row["epoch"] for row in stopping.history] == [1, 2, 3, 4]
    assert stopping.history[1] == {"epoch": 2.0, "loss": 0.5, "ndcg@10": 0.3}


def test_patience_zero_trains_every_epoch_and_still_keeps_the_best():
    stopping, model = train(patience=0)
    assert stopping.epochs_run == len(SCORES)
    assert stopping.best_epoch == 2 and torch.all(model.weight == 2)


def test_without_validation_the_last_epoch_counts():
    stopping, model = train(patience=2, validate=False)
    assert stopping.epochs_run == len(SCORES) and stopping.best_epoch == len(SCORES)
    assert stopping.best_value is None and torch.all(model.weight == len(SCORES))


def test_a_resumed_loop_continues_its_history():
    earlier = [{"epoch": 1.0, "loss": 1.0}]
    stopping = EarlyStopping(Context(show_progress=False), "fake", 3, start=1, history=earlier)
    assert list(stopping) == [2, 3]


@pytest.mark.parametrize("backend", ["embedding", "vae", "sasrec"])
def test_patience_means_one_thing_in_every_backend(backend):
    cls = component_class("backends", backend)
    field = cls.Options.model_json_schema()["properties"]["patience"]
    assert field["minimum"] == 0 and "0: no early stopping" in field["description"]
    assert cls({"patience": 0}).options.patience == 0


def test_in_a_log_the_epoch_bar_ends_where_early_stopping_ended_training(monkeypatch, capsys):
    monkeypatch.setenv("RECAUG_PROGRESS", "auto")  # stderr is captured: no terminal
    model = torch.nn.Linear(2, 1)
    stopping = EarlyStopping(
        Context(label="baseline, seed 0"),
        "fake",
        200,
        2,
        validate=lambda: SCORES[min(stopping.epochs_run, len(SCORES)) - 1],
        keep=model,
    )
    for epoch in stopping:
        stopping.record(epoch, loss=1.0)
    stopping.finish()
    err = capsys.readouterr().err
    assert "\r" not in err
    [line] = err.splitlines()
    assert line.startswith("fake (baseline, seed 0): 4/4 epoch in ")
    assert "best=0.3000@2" in line and "stopped=no gain in 2 epochs" in line


def test_a_loop_that_runs_every_epoch_ends_at_its_total(monkeypatch, capsys):
    monkeypatch.setenv("RECAUG_PROGRESS", "auto")
    stopping = EarlyStopping(Context(), "fake", 3)
    for epoch in stopping:
        stopping.record(epoch, loss=1.0)
    stopping.finish()
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("fake: 3/3 epoch in ") and "stopped" not in line


def test_a_resumed_loop_keeps_counting_from_its_best_epoch():
    """Resumed after epoch 3 with epoch 2's weights kept: it stops and keeps exactly what
    the loop that was never interrupted stops at and keeps."""
    whole, _ = train(patience=2)
    model = torch.nn.Linear(2, 1)
    kept = {k: torch.full_like(v, 2.0) for k, v in model.state_dict().items()}
    epoch_now = [3]
    stopping = EarlyStopping(
        Context(show_progress=False),
        "fake",
        len(SCORES),
        2,
        validate=lambda: SCORES[epoch_now[0] - 1],
        keep=model,
        start=3,
        history=whole.history[:3],
        best_weights=kept,
    )
    for epoch in stopping:
        epoch_now[0] = epoch
        with torch.no_grad():
            model.weight.fill_(epoch)
        stopping.record(epoch, loss=1.0 / epoch)
    stopping.finish()
    assert stopping.epochs_run == whole.epochs_run == 4
    assert stopping.best_epoch == 2 and torch.all(model.weight == 2)


def test_a_loop_that_had_stopped_trains_no_more_when_resumed():
    stopped, _ = train(patience=2)
    again = EarlyStopping(
        Context(show_progress=False),
        "fake",
        len(SCORES),
        2,
        validate=lambda: 1.0,
        start=stopped.epochs_run,
        history=stopped.history,
    )
    assert list(again) == []
