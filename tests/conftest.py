"""Shared fixtures: an in-process CLI runner and the toy strategy plugin."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TOY_PLUGIN_DIR = Path(__file__).parent / "toy_plugin"
sys.path.insert(0, str(TOY_PLUGIN_DIR))


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _quiet_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECAUG_PROGRESS", "0")


@pytest.fixture
def recaug(capsys: pytest.CaptureFixture[str]):
    """Run `recaug ARGS...` in-process; returns its exit code and captured output."""
    from recaug_app.cli import invoke as invoke_cli

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        code = invoke_cli([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def toy_plugin() -> Iterator[None]:
    """Register the toy strategy in-process for the duration of a test."""
    import recaug_toy
    from recaug_core.registry import get_registry

    registry = get_registry()
    registry.register_module(recaug_toy, "toy")
    try:
        yield
    finally:
        registry.unregister("toy")


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """Reload plugins from entry points (for tests that change RECAUG_* variables)."""
    from recaug_core.registry import reset_registry

    reset_registry()
    try:
        yield
    finally:
        reset_registry()


@pytest.fixture
def fake_distribution(tmp_path: Path):
    """Install a distribution in a folder for subprocess runs (put it on PYTHONPATH).

    ``make(name, entry_points={"ep": "module"}, modules={"module": "source"})`` returns the
    folder; nothing is pip-installed, yet importlib.metadata sees the entry points.
    """

    def make(
        name: str, entry_points: dict[str, str], modules: dict[str, str] | None = None
    ) -> Path:
        root = tmp_path / "site"
        dist = root / f"{name.replace('-', '_')}-1.2.3.dist-info"
        dist.mkdir(parents=True, exist_ok=True)
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
        lines = "".join(f"{ep} = {target}\n" for ep, target in entry_points.items())
        (dist / "entry_points.txt").write_text(f"[recaug]\n{lines}")
        for module, source in (modules or {}).items():
            (root / f"{module}.py").write_text(source)
        return root

    return make


def run_recaug(*args: str, pythonpath: Path | None = None, env: dict[str, str] | None = None):
    """Run `python -m recaug_app ARGS` in a subprocess (sees only installed entry points)."""
    import os
    import subprocess

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RECAUG_")}
    full_env["RECAUG_PROGRESS"] = "0"
    if pythonpath is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(pythonpath), str(TOY_PLUGIN_DIR), full_env.get("PYTHONPATH", "")]
        )
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "recaug_app", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


@pytest.fixture
def recaug_subprocess():
    return run_recaug
