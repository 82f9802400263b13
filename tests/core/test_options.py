"""Component options: validation messages users can act on."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field, field_validator

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


def test_unknown_option_guesses_the_meant_one_and_lists_valid_ones():
    with pytest.raises(OptionsError) as info:
        Listy({"stpes": 3})
    assert str(info.value) == (
        "unknown option 'stpes' for strategy 'listy'; did you mean 'steps'? "
        "(valid options: ops, rate, steps)"
    )


def test_out_of_range_value_names_the_option_and_value_as_typed():
    with pytest.raises(OptionsError) as info:
        Listy({"rate": "1.5"})
    assert str(info.value) == "option 'rate' of strategy 'listy' must be at most 1 (got 1.5)"


class UnionOptions(Options):
    share: float | Literal["real"] = "real"
    modes: list[Literal["a", "b"]] = Field(default_factory=list)

    @field_validator("share")
    @classmethod
    def _share(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not 0 <= value <= 1:
            raise ValueError("must be between 0 and 1")
        return value


class Unioned(Strategy):
    name = "unioned"
    description = "test strategy"
    Options = UnionOptions


@pytest.mark.parametrize(
    ("given", "message"),
    [
        # pydantic's union members (share.float, share.literal['real']) become one sentence
        ({"share": "abc"}, "option 'share' of strategy 'unioned' must be a number or 'real' "),
        ({"share": "2"}, "option 'share' of strategy 'unioned' must be between 0 and 1 (got 2)"),
        # a list item is named by its position, not as 'modes.1'
        (
            {"modes": "a,c"},
            "option 'modes' of strategy 'unioned', value 2, must be one of 'a' or 'b' (got 'c')",
        ),
    ],
)
def test_messages_show_no_pydantic_internals(given, message):
    with pytest.raises(OptionsError) as info:
        Unioned(given)
    assert str(info.value).startswith(message)
    assert ".float" not in str(info.value) and "literal[" not in str(info.value)


def test_options_round_trip_through_json():
    original = Listy({"ops": "mask", "rate": 0.1})
    assert Listy(original.options_dict()).options == original.options


def test_cli_option_without_equals_sign_is_a_usage_error(recaug, toy_plugin, tmp_path):
    result = recaug("augment", "--strategy", "toy", "-o", "per_user", "--out", tmp_path / "r")
    assert result.code == 2
    assert "expected KEY=VALUE" in result.err


def test_a_path_with_a_comma_can_be_passed_in_a_component_spec():
    from recaug_core.api import parse_spec

    assert parse_spec('blocklist:file="lists/a,b.txt",mode=strict') == (
        "blocklist",
        {"file": "lists/a,b.txt", "mode": "strict"},
    )
    # unquoted, a part without '=' continues the value before it
    assert parse_spec("blocklist:file=a,b.txt") == ("blocklist", {"file": "a,b.txt"})
    with pytest.raises(ValueError, match="unclosed"):
        parse_spec('blocklist:file="a,b.txt')
