"""The plugin manager as users meet it: discovery, broken plugins, allow/deny lists, clashes."""

from __future__ import annotations

import json

BROKEN = {"broken": "recaug_does_not_exist_anywhere"}
CLASHING_SOURCE = """
from recaug_core import hookimpl
from recaug_core.api import DataSource

class AnotherDemo(DataSource):
    name = "demo"
    description = "A second source called demo."

@hookimpl
def register_sources(register):
    register(AnotherDemo)
"""


def test_every_bundled_plugin_is_listed_without_error(recaug):
    result = recaug("plugins", "--json")
    assert result.code == 0
    plugins = {p["name"]: p for p in json.loads(result.out)}
    for name in ("sources", "baselines", "filters"):
        assert name in plugins, f"bundled plugin {name} not discovered"
        assert plugins[name]["error"] is None
        assert plugins[name]["distribution"] == "recaug"
        assert plugins[name]["version"]
    assert "demo" in plugins["sources"]["provides"]["sources"]
    assert plugins["sources"]["hooks"] == ["register_sources"]


def test_a_plugin_whose_module_is_missing_is_reported_not_fatal(
    fake_distribution, recaug_subprocess
):
    site = fake_distribution("recaug-broken", BROKEN)
    result = recaug_subprocess("plugins", "--json", pythonpath=site)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert "ModuleNotFoundError" in plugins["broken"]["error"]
    assert plugins["broken"]["distribution"] == "recaug-broken"
    assert plugins["sources"]["error"] is None  # the others still work

    listing = recaug_subprocess("plugins", pythonpath=site)
    assert listing.returncode == 0 and "ERROR" in listing.stdout

    data = recaug_subprocess(
        "data",
        "info",
        "demo",
        "-s",
        "users=30",
        "-s",
        "items=20",
        "-s",
        "interactions=200",
        pythonpath=site,
    )
    assert data.returncode == 0, data.stderr


def test_strict_mode_makes_a_broken_plugin_fatal(fake_distribution, recaug_subprocess):
    site = fake_distribution("recaug-broken", BROKEN)
    result = recaug_subprocess("plugins", pythonpath=site, env={"RECAUG_STRICT_PLUGINS": "1"})
    assert result.returncode != 0
    assert "broken" in result.stderr and "Traceback" not in result.stderr


MISSPELT_HOOK = """
from recaug_core import hookimpl


@hookimpl
def register_strategy(register):  # the hook is register_strategies
    raise AssertionError("never called")


@hookimpl
def register_filters(register):
    pass
"""


def test_a_misspelt_hook_is_reported_by_plugins(fake_distribution, recaug_subprocess):
    site = fake_distribution("recaug-typo", {"typo": "recaug_typo"}, {"recaug_typo": MISSPELT_HOOK})
    listing = recaug_subprocess("plugins", "--json", pythonpath=site)
    assert listing.returncode == 0, listing.stderr
    plugin = {p["name"]: p for p in json.loads(listing.stdout)}["typo"]
    assert plugin["unknown_hooks"] == ["register_strategy"]
    assert plugin["hooks"] == ["register_filters"]
    text = recaug_subprocess("plugins", pythonpath=site)
    assert "WARNING: implements 'register_strategy' (did you mean 'register_strategies'?)" in (
        text.stdout
    )


def test_strict_mode_refuses_a_misspelt_hook(fake_distribution, recaug_subprocess):
    site = fake_distribution("recaug-typo", {"typo": "recaug_typo"}, {"recaug_typo": MISSPELT_HOOK})
    result = recaug_subprocess("plugins", pythonpath=site, env={"RECAUG_STRICT_PLUGINS": "1"})
    assert result.returncode == 2
    assert "plugin 'typo' implements 'register_strategy'" in result.stderr
    assert "not a recaug hook" in result.stderr and "Traceback" not in result.stderr


def test_allow_and_deny_lists(fake_distribution, recaug_subprocess):
    site = fake_distribution("recaug-broken", BROKEN)
    only = recaug_subprocess(
        "plugins", "--json", pythonpath=site, env={"RECAUG_LOAD_PLUGINS": "sources"}
    )
    assert [p["name"] for p in json.loads(only.stdout)] == ["sources"]
    denied = recaug_subprocess(
        "plugins", "--json", pythonpath=site, env={"RECAUG_DISABLE_PLUGINS": "broken,filters"}
    )
    names = {p["name"] for p in json.loads(denied.stdout)}
    assert "broken" not in names and "filters" not in names and "sources" in names


def test_two_plugins_with_one_name_give_an_error_naming_both(fake_distribution, recaug_subprocess):
    site = fake_distribution(
        "recaug-clash", {"clash": "recaug_clash"}, {"recaug_clash": CLASHING_SOURCE}
    )
    listing = recaug_subprocess("plugins", "--json", pythonpath=site)
    plugins = {p["name"]: p for p in json.loads(listing.stdout)}
    errors = [plugins["clash"]["error"], plugins["sources"]["error"]]
    assert any(e and "'demo' is already registered by plugin" in e for e in errors)
    use = recaug_subprocess("data", "info", "demo", "--source", "demo", pythonpath=site)
    assert use.returncode == 2
    assert "'sources'" in use.stderr and "'clash'" in use.stderr


def test_third_party_strategy_is_discovered_and_runs(
    fake_distribution, recaug_subprocess, tmp_path
):
    site = fake_distribution("recaug-toy", {"toy": "recaug_toy"})
    listing = recaug_subprocess("list", "strategies", "--json", pythonpath=site)
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["toy"]["plugin"] == "toy"
    assert rows["toy"]["options"]["properties"]["per_user"]["default"] == 3
    out = tmp_path / "run"
    result = recaug_subprocess(
        "augment",
        "demo",
        "-s",
        "users=80",
        "-s",
        "items=40",
        "-s",
        "interactions=900",
        "--strategy",
        "toy",
        "--out",
        str(out),
        pythonpath=site,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "manifest.json").exists()


def test_list_shows_descriptions_and_option_schemas(recaug):
    result = recaug("list", "sources", "--json")
    rows = {row["name"]: row for row in json.loads(result.out)}
    assert rows["demo"]["description"]
    assert rows["demo"]["options"]["properties"]["users"]["default"] == 1000
    text = recaug("list", "backends")
    assert "pop" in text.out and "    count=" in text.out


def test_list_shows_options_in_the_syntax_of_their_kind(recaug):
    # each option line is typed as it is written: KEY=DEFAULT after the kind's own flag
    filters = recaug("list", "filters").out
    assert filters.startswith("options: recaug augment --filter NAME:KEY=VALUE")
    assert "    max_head_share=real  " in filters and "-o " not in filters
    strategies = recaug("list", "strategies").out
    assert "--strategy NAME:KEY=VALUE,... or -o KEY=VALUE" in strategies
    assert "    ops=crop,mask,reorder,substitute,insert  " in strategies
