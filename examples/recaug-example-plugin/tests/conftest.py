"""The tests exercise the plugin as users get it: installed, and found through its entry point."""

from __future__ import annotations

from importlib import metadata

import pytest


def pytest_configure(config: pytest.Config) -> None:
    try:
        metadata.distribution("recaug-example-plugin")
    except metadata.PackageNotFoundError:
        raise pytest.UsageError(
            "recaug-example-plugin is not installed: run "
            "`pip install -e examples/recaug-example-plugin` first"
        ) from None


@pytest.fixture(autouse=True)
def _quiet_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECAUG_PROGRESS", "0")
