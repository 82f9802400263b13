"""Component options: validation messages users can act on."""

from __future__ import annotations

import pytest
from pydantic import Field

from recaug_core import Options, OptionsError, Strategy


class ListyOptions(Options):
    ops: list[str] = Field(default_factory=lambda: ["crop"])
    rate: float = Field(default=0.5, ge=0, le=1)
    steps: int = 3


class Listy(Strategy):
    name = "listy"
    description = "test strategy"
    Options = ListyOptions


def test_comma_separated_values_fill_list_options():
    assert Listy({"ops": "crop, mask,reorder"}).options.ops == ["crop", "mask", "reorder"]


def test_strings_from_the_command_line_are_coerced():
    options = Listy({"rate": "0.25", "steps": "7"}).options
    assert options.rate == 0.25 and options.steps == 7


def test_unknown_option_lists_valid_ones():
    with pytest.raises(
        OptionsError,
        match=r"unknown option 'stpes' for strategy 'listy'; "
        r"valid options: ops, rate, steps",
    ):
        Listy({"stpes": 3})


def test_out_of_range_value_names_the_option_and_value():
    with pytest.raises(OptionsError, match=r"option 'rate' of strategy 'listy'.*'1.5'"):
        Listy({"rate": "1.5"})


def test_options_round_trip_through_json():
    original = Listy({"ops": "mask", "rate": 0.1})
    assert Listy(original.options_dict()).options == original.options


def test_cli_option_without_equals_sign_is_a_usage_error(recaug, toy_plugin, tmp_path):
    result = recaug("augment", "--strategy", "toy", "-o", "per_user", "--out", tmp_path / "r")
    assert result.code == 2
    assert "expected KEY=VALUE" in result.err
