"""Generated experiment files (hypothesis): each one loads, or fails with one sentence that
starts with the file's name and names a key or a line. Never another exception, never an
output folder. Most cases run in-process through ``load_experiment`` (what `recaug run` does
first); every tenth also goes through the command line."""

from __future__ import annotations

import datetime
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from experiment_files import HEADER, arm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaug_app.experiment_file import load_experiment
from recaug_core import RecaugError

CASES: Counter[str] = Counter()
MINIMUM_CASES = 300
FAST = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,  # the same cases on every run: a failure reproduces
)
VALID = (
    HEADER
    + arm("a", "seq", options='{ ops = ["crop", "mask"] }', budget=100)
    + arm("b", "seq", filters='["popularity:max_head_share=0.5"]', target='"all"')
)
EXAMPLE = (Path(__file__).parents[2] / "examples/experiments/demo.toml").read_bytes()
NASTY = [
    b"[", b"]", b"[[arms]]", b"=", b'"', b"'", b"\n", b"\x00", b"\xff", b"{", b"}", b",",
    b"-1", b"1e999", b"nan", b"inf", b"true", b"1979-05-27", b"name", b"..", b"/", b"\\u0000",
    b"ops", b"budget", b"seeds", b"\t", b"#", b'"""', b"x" * 300,
]  # fmt: skip
KEYS = [
    "seeds", "ks", "description", "dataset", "split", "backends", "arms", "ref", "source",
    "options", "clean", "name", "strategy", "filters", "budget", "target", "dedupe", "label",
    "protocol", "ratios", "kcore", "min_rating", "users", "items", "interactions", "ops",
    "per_user", "count", "save_dir", "epochs", "max_head_share", "nope",
]  # fmt: skip
NAMES = ["seq", "toy", "pop", "embedding", "dedupe", "popularity", "demo", "cooccurrence", "x"]


def check(text: bytes, tmp: Path) -> str | None:
    """Load ``text`` as exp.toml; returns the error message (None if it loaded)."""
    path = tmp / "exp.toml"
    path.write_bytes(text)
    try:
        load_experiment(path)
    except RecaugError as exc:
        message = str(exc)
        assert message.startswith("exp.toml: "), message
        assert "\n" not in message and "\r" not in message, message
        assert len(message.split(": ", 2)) == 3 and message.split(": ")[1], message
        return message
    return None


def check_cli(text: bytes, tmp: Path, recaug: Any) -> None:
    message = check(text, tmp)
    if message is None:
        return  # a valid file would start a whole experiment: the in-process check is enough
    out = tmp / "out"
    result = recaug("run", tmp / "exp.toml", "--out", out)
    assert result.code == 2
    assert result.err.strip() == f"error: {message}".replace("\r", "\\r")
    assert not out.exists()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid experiment file with 1-3 byte-level edits."""
    data = draw(st.sampled_from([VALID.encode(), EXAMPLE]))
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(["cut", "delete", "insert", "lines", "swap"]))
        at = draw(st.integers(0, len(data)))
        if edit == "cut":
            data = data[:at]
        elif edit == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 30)) :]
        elif edit == "insert":
            data = data[:at] + draw(st.sampled_from(NASTY)) + data[at:]
        else:
            lines = data.split(b"\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if edit == "lines":
                del lines[i]
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
    return data


SCALARS = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(NAMES + KEYS + ["", "../x", "/abs", "a/b", "baseline", "0.8,0.1,0.1"]),
    st.text(max_size=12),
    st.dates(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)


def to_toml(value: Any) -> str:
    """An inline TOML value (JSON is close enough for strings, numbers and arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, list):
        return "[" + ", ".join(to_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {to_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


ARM_KEYS = ["options", "filters", "dedupe", "budget", "target", "name", "strategy", "nope"]


def usually(draw: st.DrawFn, valid: Any, keys: list[str]) -> dict[str, Any]:
    """``valid`` (a dict) with, now and then, one key set to a drawn value."""
    entry = dict(valid)
    if draw(st.integers(0, 3)) == 0:
        entry[draw(st.sampled_from(keys))] = draw(VALUES)
    return entry


@st.composite
def structured(draw: st.DrawFn) -> bytes:
    """Well-formed TOML, mostly valid, with one or two keys or values drawn at random: the
    cases reach every level of the schema and the registry's option checks."""
    top = usually(draw, {"seeds": [0, 1]}, ["seeds", "ks", "description", "nope"])
    lines = [f"{k} = {to_toml(v)}" for k, v in top.items()]
    dataset = {"ref": "demo", "options": {"users": 30, "items": 20, "interactions": 300}}
    lines.append("[dataset]")
    lines += [
        f"{k} = {to_toml(v)}"
        for k, v in usually(draw, dataset, ["ref", "options", "source", "clean", "nope"]).items()
    ]
    for position in range(draw(st.sampled_from([1, 1, 1, 1, 0, 2]))):
        lines.append("[[backends]]")
        valid = {"name": "pop", "label": f"pop-{position}"}
        backend = usually(draw, valid, ["name", "label", "options"])
        lines += [f"{k} = {to_toml(v)}" for k, v in backend.items()]
    for position in range(draw(st.integers(0, 3))):
        lines.append("[[arms]]")
        valid = {"name": f"arm-{position}", "strategy": draw(st.sampled_from(["seq", "toy"]))}
        lines += [f"{k} = {to_toml(v)}" for k, v in usually(draw, valid, ARM_KEYS).items()]
    return ("\n".join(lines) + "\n").encode()


@FAST
@given(text=mutated())
def test_mutated_files(text: bytes, recaug: Any, toy_plugin: None) -> None:
    CASES["mutated"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        if CASES["mutated"] % 10 == 0:
            check_cli(text, Path(tmp), recaug)
        else:
            check(text, Path(tmp))


@FAST
@given(text=structured())
def test_structured_files(text: bytes, recaug: Any, toy_plugin: None) -> None:
    CASES["structured"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        if CASES["structured"] % 10 == 0:
            check_cli(text, Path(tmp), recaug)
        else:
            check(text, Path(tmp))


def test_enough_cases_ran() -> None:
    total = sum(CASES.values())
    if total == 0:
        pytest.skip("run together with the fuzz tests")
    print(f"experiment files generated: {dict(CASES)}, {total} in all")
    assert total >= MINIMUM_CASES
