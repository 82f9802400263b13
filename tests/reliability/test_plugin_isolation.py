"""Plugins cannot take the process over (issue 19): ``sys.exit`` is their failure, not
recaug's exit; what they print stays off stdout, so ``--json`` stays parseable; a slow import is
named; replacing a built-in command or out-ranking a built-in source is announced and listed.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

TINY = ("demo", "-s", "users=30", "-s", "items=20", "-s", "interactions=300")
EXIT_AT_IMPORT = "import sys\nsys.exit(7)\n"
PRINT_AT_IMPORT = """
print("hello from an import")
from recaug_core import hookimpl

@hookimpl
def register_filters(register):
    print("hello from a hook")
"""
SLOW_IMPORT = "import time\ntime.sleep(0.6)\n"
REPLACE_DATA = """
import click
from recaug_core import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command("data")
    def data():
        click.echo("not recaug's data command")
"""


@pytest.fixture
def hostile() -> Iterator[None]:
    import hostile_plugin

    from recaug_core.registry import get_registry

    registry = get_registry()
    registry.register_module(hostile_plugin, "hostile")
    try:
        yield
    finally:
        registry.unregister("hostile")


def test_exit_at_import_is_a_broken_plugin_not_recaugs_exit(fake_distribution, recaug_subprocess):
    site = fake_distribution(
        "recaug-exits", {"exits": "exits_at_import"}, {"exits_at_import": EXIT_AT_IMPORT}
    )
    assert recaug_subprocess("--help", pythonpath=site).returncode == 0
    listing = recaug_subprocess("plugins", "--json", pythonpath=site)
    assert listing.returncode == 0
    plugins = {p["name"]: p for p in json.loads(listing.stdout)}
    assert "called sys.exit(7)" in plugins["exits"]["error"]
    strict = recaug_subprocess("plugins", pythonpath=site, env={"RECAUG_STRICT_PLUGINS": "1"})
    assert strict.returncode == 2 and "called sys.exit(7)" in strict.stderr


def test_printing_at_import_keeps_json_clean(fake_distribution, recaug_subprocess):
    site = fake_distribution("recaug-chatty", {"chatty": "chatty"}, {"chatty": PRINT_AT_IMPORT})
    result = recaug_subprocess("data", "info", *TINY, "--json", pythonpath=site)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["interactions"] > 0
    assert "hello from an import" in result.stderr and "hello from a hook" in result.stderr


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("augment", ("--strategy", "hostile", "-o", "fault=print", "--json")),
        ("augment", ("--strategy", "hostile", "--filter", "hostile-filter:fault=print", "--json")),
        ("evaluate", ("--backend", "hostile-backend", "-o", "fault=print", "--json")),
    ],
    ids=["strategy", "filter", "backend"],
)
def test_printing_plugin_code_keeps_json_clean(tmp_path, recaug, hostile, command, args):
    out = ("--out", tmp_path / "run") if command == "augment" else ()
    result = recaug(command, *TINY, *args, *out)
    assert result.code == 0, result.err
    json.loads(result.out)
    assert "hello from" in result.err


def test_ctrl_c_in_plugin_code_still_stops_recaug(tmp_path, recaug, hostile):
    result = recaug(
        "augment", *TINY, "--strategy", "hostile", "-o", "fault=keyboard", "--out", tmp_path
    )
    assert result.code == 130
    # and says how to continue: the same command with --resume
    assert result.err.strip().endswith("fault=keyboard --out " + f"{tmp_path} --resume")
    assert "interrupted; to continue where it stopped, run: recaug augment " in result.err


def test_a_slow_import_is_named(tmp_path, monkeypatch, fake_distribution, capsys):
    from recaug_core import sandbox
    from recaug_core.registry import PluginRegistry

    site = fake_distribution("recaug-slow", {"slow": "slow_plugin"}, {"slow_plugin": SLOW_IMPORT})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("RECAUG_LOAD_PLUGINS", "slow")
    monkeypatch.setattr(sandbox, "SLOW_LOAD_S", 0.2)
    started = time.perf_counter()
    PluginRegistry().load_entry_points()
    assert time.perf_counter() - started >= 0.6
    err = capsys.readouterr().err
    assert "notice: loading plugin 'slow' has taken 0.2 s so far" in err
    assert "RECAUG_DISABLE_PLUGINS=slow" in err


def test_replacing_a_built_in_command_is_announced(fake_distribution, recaug_subprocess):
    site = fake_distribution(
        "recaug-takeover", {"takeover": "takeover"}, {"takeover": REPLACE_DATA}
    )
    result = recaug_subprocess("data", pythonpath=site)
    assert "notice: plugin 'takeover' replaces the command 'data'" in result.stderr
    listing = recaug_subprocess("plugins", "--json", pythonpath=site)
    plugins = {p["name"]: p for p in json.loads(listing.stdout)}
    assert plugins["takeover"]["overrides"] == ["command 'data'"]
    assert plugins["sources"]["overrides"] == []


def test_a_source_that_outranks_the_built_in_ones_is_announced(recaug):
    from recaug_core import DataSource, hookimpl
    from recaug_core.registry import get_registry

    class Grabber(DataSource):
        name = "grabber"
        description = "Claims everything (test helper)."
        priority = 100

        @classmethod
        def can_load(cls, ref: str) -> bool:
            return True

        def load(self, ref: str):  # type: ignore[no-untyped-def]
            from recaug_core.registry import create

            return create("sources", "demo", {"users": 30, "items": 20}).load("demo")

    class Plugin:
        @hookimpl
        def register_sources(self, register):  # type: ignore[no-untyped-def]
            register(Grabber)

    registry = get_registry()
    registry.register_module(Plugin(), "grabbing")
    try:
        result = recaug("data", "info", "demo", "--json")
        assert result.code == 0 and json.loads(result.out)["source"]["source"] == "grabber"
        assert (
            "notice: demo is read by source 'grabber' of plugin 'grabbing', not by the "
            "built-in source 'demo'" in result.err
        )
        listing = {p["name"]: p for p in json.loads(recaug("plugins", "--json").out)}
        assert (
            "source 'grabber' ranks with or above the built-in sources (priority 100)"
            in (listing["grabbing"]["overrides"])
        )
    finally:
        registry.unregister("grabbing")
