"""Progress on stderr: bars on a terminal, one line per finished bar in a log, none with
--quiet."""

from __future__ import annotations

import sys

import pytest

from recaug_core import Context


@pytest.fixture
def auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECAUG_PROGRESS", "auto")  # stderr is captured: not a terminal


def test_in_a_log_a_bar_writes_one_line_that_ends_at_its_total(auto, capsys):
    ctx = Context(label="baseline, seed 0")
    for _ in ctx.progress(range(342), desc="lightgcn", unit="epoch"):
        pass
    err = capsys.readouterr().err
    assert "\r" not in err
    [line] = err.splitlines()
    assert line.startswith("lightgcn (baseline, seed 0): 342/342 epoch in 00:0")


def test_a_bar_updated_by_hand_reports_its_figures_when_closed(auto, capsys):
    bar = Context().progress(total=10, desc="lora-gen train", unit="step")
    for step in range(10):
        bar.set_postfix(loss=f"{1 / (step + 1):.3f}")
        bar.update(1)
    assert capsys.readouterr().err == ""  # nothing while it runs
    bar.close()
    bar.close()  # closing twice says it once
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("lora-gen train: 10/10 step in ")
    assert line.endswith("(loss=0.100)")


def test_recaug_progress_1_draws_bars_even_into_a_log(monkeypatch, capsys):
    monkeypatch.setenv("RECAUG_PROGRESS", "1")
    for _ in Context().progress(range(3), desc="drawn", leave=True):
        pass
    err = capsys.readouterr().err
    assert "\r" in err and "drawn: 100%" in err


def test_progress_off_writes_nothing_and_hides_library_bars(monkeypatch, capsys):
    monkeypatch.setenv("RECAUG_PROGRESS", "0")
    ctx = Context()
    for _ in ctx.progress(range(3), desc="hidden"):
        pass
    ctx.log("a progress message")
    assert capsys.readouterr().err == ""
    assert not ctx.draws_progress


def test_library_bars_are_drawn_only_where_stderr_redraws(auto, monkeypatch):
    ctx = Context()
    assert not ctx.draws_progress  # a log: a library's bar would be \r frames
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert ctx.draws_progress


def test_quiet_turns_progress_off_for_the_whole_command(auto, recaug, tmp_path, toy_plugin):
    loud = recaug("augment", "demo", "--strategy", "toy", "--out", tmp_path / "a")
    assert loud.code == 0, loud.err
    assert "augmenting" in loud.err
    quiet = recaug("--quiet", "augment", "demo", "--strategy", "toy", "--out", tmp_path / "b")
    assert quiet.code == 0, quiet.err
    assert "augmenting" not in quiet.err
    assert quiet.out == loud.out.replace(str(tmp_path / "a"), str(tmp_path / "b"))
