"""Every write stays inside its folder once links are followed (issue 19): labels read back
from results.json are file names, never paths; a ``figures/`` that links elsewhere is refused;
``--out ""`` (the current folder) and special files are refused; a plugin's checkpoint name
cannot climb out of the run folder; long steps show their progress on a terminal.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

EXPERIMENT = (
    'seeds = [0]\nks = [5]\n[dataset]\nref = "demo"\n'
    "options = { users = 30, items = 20, interactions = 300 }\n"
    '[[backends]]\nname = "pop"\n'
)


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def finished_run(tmp_path: Path, recaug) -> Path:
    experiment = tmp_path / "exp.toml"
    experiment.write_text(EXPERIMENT)
    out = tmp_path / "box" / "out"
    assert recaug("run", experiment, "--out", out, "--no-report").code == 0
    return out


def test_a_backend_label_in_results_json_cannot_name_a_path(tmp_path, recaug, finished_run):
    path = finished_run / "results.json"
    results = json.loads(path.read_text())
    results["experiment"]["backends"][0]["label"] = "../../../../escaped"
    for run in results["runs"]:
        run["backend"] = "../../../../escaped"
    path.write_text(json.dumps(results))
    before = files_under(tmp_path)
    result = recaug("report", finished_run)
    assert result.code == 2 and "results.json" in result.err and "label" in result.err
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("link", ["figures", "report.md"])
def test_a_link_in_the_run_folder_is_not_written_through(tmp_path, recaug, finished_run, link):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere if link == "figures" else elsewhere / "report.md"
    (finished_run / link).symlink_to(target)
    result = recaug("report", finished_run)
    assert result.code == 2 and "refusing to write outside" in result.err
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ("augment", "demo", "--strategy", "seq", "--out", ""),
        ("run", "exp.toml", "--out", ""),
        ("report", ""),
        ("export", "", "--format", "csv", "--out", "x"),
        ("export", "somewhere", "--format", "csv", "--out", " "),
    ],
    ids=["augment", "run", "report", "export", "export --out"],
)
def test_an_empty_folder_name_is_refused(tmp_path, recaug, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.toml").write_text(EXPERIMENT)
    result = recaug(*args)
    assert result.code == 2 and "is empty; name the folder to write" in result.err
    assert files_under(tmp_path) == {"exp.toml"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_no_output_folder(tmp_path, recaug):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = recaug("augment", "demo", "--strategy", "seq", "--out", fifo)
    assert result.code == 2 and "named pipe (FIFO), not a folder" in result.err


def test_a_checkpoint_name_cannot_leave_the_run_folder(tmp_path):
    from recaug_core.errors import RecaugError
    from recaug_core.runtime import Context

    ctx = Context(work_dir=tmp_path / "run")
    assert ctx.checkpoint_dir("gan").is_dir()
    with pytest.raises(RecaugError, match="refusing to write outside"):
        ctx.checkpoint_dir("../../escaped")
    assert not (tmp_path / "escaped").exists()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_long_steps_show_progress_on_a_terminal(monkeypatch, tmp_path, recaug):
    from recaug_core import runtime

    monkeypatch.setattr(runtime, "TICK_S", 0.001)
    monkeypatch.setenv("RECAUG_PROGRESS", "1")
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    path = tmp_path / "r.csv"
    path.write_text("user,item\n" + "".join(f"u{k % 9},i{k % 7}\n" for k in range(200)))
    assert recaug("data", "info", path).code == 0
    shown = terminal.getvalue()  # reading takes milliseconds at least: over TICK_S here
    assert "\rreading " in shown and "r.csv (1.2 KB) with source 'table': " in shown


def test_activity_shows_the_time_so_far_then_the_total(monkeypatch):
    from recaug_core import runtime

    monkeypatch.setattr(runtime, "TICK_S", 0.01)
    monkeypatch.setenv("RECAUG_PROGRESS", "1")
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with runtime.activity("cleaning 9 interactions"):
        time.sleep(0.1)
    lines = terminal.getvalue().split("\r")
    assert "cleaning 9 interactions ... 0 s" in lines
    assert lines[-1].startswith("cleaning 9 interactions: 0.1") and lines[-1].endswith(" s\n")
    with runtime.activity("quick"):
        pass
    assert "quick" not in terminal.getvalue()  # a short step leaves no trace


def test_no_progress_when_stderr_is_not_a_terminal(monkeypatch, tmp_path, recaug):
    from recaug_core import runtime

    monkeypatch.setattr(runtime, "TICK_S", 0.001)
    monkeypatch.setenv("RECAUG_PROGRESS", "1")
    result = recaug("data", "info", "demo", "-s", "users=30", "-s", "items=20")
    assert result.code == 0 and "reading" not in result.err
