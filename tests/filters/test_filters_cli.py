"""The filters as users meet them: listed with options, configured with --filter, cheap to load."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from recaug_app.cli import invoke

FILTERS = {
    "dedupe": set(),
    "catalog": {"new_user_prefix", "check_parent", "items"},
    "plausibility": {
        "backend",
        "backend_options",
        "valid_share",
        "keep",
        "fraction",
        "threshold",
        "mode",
        "unscored",
    },
    "popularity": {"max_head_share", "target", "bins"},
    "diversity": {"threshold", "scope", "min_items", "num_perm", "bands"},
    "privacy": {"min_distance", "max_ngram", "baseline_users"},
}


def test_list_filters_json_shows_every_filter_with_its_options(capsys):
    assert invoke(["list", "filters", "--json"]) == 0
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    for name, options in FILTERS.items():
        assert listed[name]["plugin"] == "filters"
        properties = listed[name]["options"]["properties"]
        assert set(properties) == options
        assert all(prop.get("description") for prop in properties.values())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("popularity:max_head_share=2", "option 'max_head_share' of filter 'popularity'"),
        ("diversity:colour=red", "unknown option 'colour' for filter 'diversity'"),
        ("plausibility:keep=all", "option 'keep' of filter 'plausibility'"),
        ("privacy:min_distance", "expected NAME or NAME:key=value"),
    ],
)
def test_bad_filter_options_exit_2_with_one_sentence(
    planted_plugin, tmp_path, capsys, spec, message
):
    code = invoke(
        ["augment", "--strategy", "planted", "--filter", spec, "--out", str(tmp_path / "r")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_registering_the_filters_does_not_import_torch():
    code = (
        "import sys\n"
        "import recaug_filters\n"
        "found = []\n"
        "recaug_filters.register_filters(register=found.append)\n"
        "assert len(found) == 6, found\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
