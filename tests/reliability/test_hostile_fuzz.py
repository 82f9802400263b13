"""Generated hostile inputs (hypothesis), by the families that once crashed recaug or misread
data: CSV line endings, fields larger than Python's csv limit, JSON-lines values of every JSON
type (``null`` lines, deep nesting, lone surrogates), times of every unit and type, and Parquet
columns of unusual types. Each case loads with sane values or fails with one sentence naming
the file; never another exception, never a crash of the process (a segmentation fault here
takes the whole test run down with it).

Loading runs in-process through ``load_data``, the code path of every command, so that the
cases take seconds. ``test_enough_hostile_cases_ran`` checks (and prints) how many ran.
"""

from __future__ import annotations

import datetime
import io
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaug_app.describe import describe
from recaug_core.errors import RecaugError
from recaug_core.loading import load_data
from recaug_core.schema import MAX_TIMESTAMP

CASES: Counter[str] = Counter()
FAMILIES = ("line_endings", "huge_fields", "json_values", "times", "parquet_types")
MINIMUM_CASES = 1_000
FAST = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same cases on every run: a failure reproduces
)


def load_or_refuse(path: Path, **options: Any) -> Any:
    """The loaded dataset, or None after a one-sentence RecaugError naming ``path``."""
    try:
        loaded = load_data(str(path), source_options=options)
    except RecaugError as error:
        message = str(error)
        assert message and "\n" not in message and len(message) < 1_000, repr(message[:300])
        assert path.name in message, message
        return None
    data = loaded.dataset
    assert len(data) > 0
    times = data.interactions.column("timestamp").drop_null().to_pylist()
    assert all(0 <= t <= MAX_TIMESTAMP for t in times)
    describe(data)  # what `data info` prints: every time must be a showable date
    return data


def write(folder: str, name: str, data: bytes) -> Path:
    path = Path(folder) / name
    path.write_bytes(data)
    return path


# -- CSV line endings --------------------------------------------------------------------------

IDS = st.text(alphabet="abcxyz019_-", min_size=1, max_size=6)
ROWS = st.lists(st.tuples(IDS, IDS, st.sampled_from(["1", "4.5", "", "x"])), min_size=1, max_size=6)


@settings(FAST, max_examples=300)
@given(
    rows=ROWS,
    endings=st.lists(st.sampled_from(["\n", "\r\n", "\r", "\n\r", "\r\r\n"]), min_size=1),
    bom=st.booleans(),
    quoted=st.booleans(),
    trailing=st.sampled_from(["", "\n", "\r", "\r\n", "\n\n"]),
)
def test_csv_line_endings(
    rows: list[tuple[str, str, str]], endings: list[str], bom: bool, quoted: bool, trailing: str
) -> None:
    CASES["line_endings"] += 1
    lines = ["user,item,rating"] + [
        ",".join(f'"{v}"' if quoted else v for v in row) for row in rows
    ]
    text = "".join(line + endings[i % len(endings)] for i, line in enumerate(lines[:-1]))
    text += lines[-1] + trailing
    with tempfile.TemporaryDirectory() as tmp:
        path = write(tmp, "d.csv", (b"\xef\xbb\xbf" if bom else b"") + text.encode())
        data = load_or_refuse(path)
        if data is not None and set(endings) <= {"\n", "\r\n", "\r"}:
            # each ending one line: every row is read (repeated pairs keep one row)
            assert len(data) == len({(u, i) for u, i, _ in rows})


# -- fields beyond Python's csv limit (131,072 bytes) ---------------------------------------------


@settings(FAST, max_examples=60)
@given(
    size=st.sampled_from([131_071, 131_073, 300_000]),
    column=st.sampled_from(["user", "item", "rating", "note"]),
    quoted=st.booleans(),
    extra_field=st.booleans(),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_huge_fields(size: int, column: str, quoted: bool, extra_field: bool, ending: str) -> None:
    CASES["huge_fields"] += 1
    values = {"user": "u2", "item": "i2", "rating": "4", "note": "n"}
    huge = "x" * size if column != "rating" else "9" * size
    values[column] = f'"{huge}"' if quoted else huge
    row = ",".join(values.values()) + (",surplus" if extra_field else "")
    text = ending.join(["user,item,rating,note", "u1,i1,3,short", row]) + ending
    with tempfile.TemporaryDirectory() as tmp:
        data = load_or_refuse(write(tmp, "h.csv", text.encode()))
        if extra_field:
            assert data is None  # 5 fields under a 4-field header: refused, never misread


# -- JSON lines: values of every JSON type, anywhere ----------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["\ud800", "\udfff", "\x00", "\u200b", "\xa0", " ", ""]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def deep(depth: int, kind: str) -> str:
    return "[" * depth + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


@st.composite
def json_line(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["value", "row", "row", "row", "deep", "blank"]))
    if shape == "value":  # a whole line that is not an object: null, 3, "x", [1]...
        return json.dumps(draw(VALUES))
    if shape == "deep":
        value = deep(
            draw(st.sampled_from([200, 256, 257, 5_000, 30_000])),
            draw(st.sampled_from(["list", "dict"])),
        )
        return value if draw(st.booleans()) else '{"user": "u", "item": "i", "x": ' + value + "}"
    if shape == "blank":
        return draw(st.sampled_from(["", " ", "\t", "\r"]))
    row: dict[str, Any] = {"user": "u1", "item": "i1"}
    for key in draw(
        st.lists(st.sampled_from(["user", "item", "rating", "timestamp", "extra"]), max_size=3)
    ):
        row[key] = draw(VALUES)
    return json.dumps(row)


@settings(FAST, max_examples=500)
@given(
    lines=st.lists(json_line(), min_size=1, max_size=5), suffix=st.sampled_from(["jsonl", "json"])
)
def test_json_lines_with_every_value(lines: list[str], suffix: str) -> None:
    CASES["json_values"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        load_or_refuse(write(tmp, f"v.{suffix}", "\n".join(lines).encode("utf-8", "surrogatepass")))


# -- times of every unit and type ---------------------------------------------------------------

NOW = 1_700_000_000
TIME_VALUES = st.one_of(
    st.sampled_from([0, 1, NOW, NOW * 1_000, NOW * 1_000_000, NOW * 1_000_000_000]),
    st.sampled_from([-1, MAX_TIMESTAMP, MAX_TIMESTAMP + 1, 2**53, 2**62, 2**63 - 1]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
)


@st.composite
def time_column(draw: st.DrawFn) -> pa.Array:
    values = draw(st.lists(TIME_VALUES, min_size=2, max_size=4))
    kind = draw(
        st.sampled_from(["int64", "uint64", "int32", "float64", "text", "iso", "arrow", "date"])
    )
    if kind == "uint64":
        return pa.array([abs(v) for v in values], pa.uint64())
    if kind == "int32":
        return pa.array([max(-(2**31), min(v, 2**31 - 1)) for v in values], pa.int32())
    if kind == "float64":
        return pa.array([float(v) for v in values], pa.float64())
    if kind == "text":
        return pa.array([str(v) for v in values], pa.string())
    if kind == "iso":
        stamps = [
            datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=v % 10**10) for v in values
        ]
        return pa.array([s.isoformat() for s in stamps], pa.string())
    unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
    if kind == "date":
        return pa.array([v % 2_000_000 for v in values], pa.int32()).cast(pa.date32())
    tz = draw(st.sampled_from([None, "UTC", "Europe/Paris"]))
    return pa.array(values, pa.int64()).cast(pa.timestamp(unit, tz))


@settings(FAST, max_examples=400)
@given(
    column=time_column(),
    unit=st.sampled_from([None, "s", "ms", "us", "ns"]),
    fmt=st.sampled_from(["parquet", "csv", "jsonl"]),
)
def test_times_of_every_unit(column: pa.Array, unit: str | None, fmt: str) -> None:
    CASES["times"] += 1
    n = len(column)
    table = pa.table(
        {"user_id": [f"u{i}" for i in range(n)], "item_id": ["i"] * n, "timestamp": column}
    )
    options = {} if unit is None else {"time_unit": unit}
    with tempfile.TemporaryDirectory() as tmp:
        if fmt == "parquet":
            path = Path(tmp) / "t.parquet"
            try:
                pq.write_table(table, path)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return  # a time Parquet itself cannot store (seconds become milliseconds)
        else:
            try:  # as text: Arrow writes any time it holds, dates beyond 9999 included
                texts = column.cast(pa.string()).to_pylist()
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return
            users = table.column("user_id").to_pylist()
            if fmt == "csv":
                lines = ["user_id,item_id,timestamp"]
                lines += [f"{u},i,{'' if t is None else t}" for u, t in zip(users, texts)]
            else:
                numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
                lines = [
                    json.dumps({"user_id": u, "item_id": "i", "timestamp": v})
                    for u, v in zip(users, column.to_pylist() if numeric else texts)
                ]
            path = write(tmp, f"t.{fmt}", "\n".join(lines).encode())
        load_or_refuse(path, **options)


# -- Parquet columns of unusual types ------------------------------------------------------------


def hostile_array(kind: str, n: int) -> pa.Array:
    """``n`` values of ``kind``, including the extremes of the type."""
    if kind in ("int8", "int64", "uint8", "uint64"):
        info = pa.array([0], getattr(pa, kind)()).type
        extremes = {
            "int8": [-128, 127], "int64": [-(2**63), 2**63 - 1],
            "uint8": [0, 255], "uint64": [0, 2**64 - 1],
        }[kind]  # fmt: skip
        return pa.array([extremes[i % 2] if i else 1 for i in range(n)], info)
    if kind == "float16":
        import numpy as np

        return pa.array(np.array([1.5, np.inf, -0.0, 65504][:n] * n, dtype=np.float16)[:n])
    if kind == "float64":
        return pa.array([1e300, -1e-300, 2.0**53 + 2, float("nan")][:n] * n)[:n]
    if kind == "decimal":
        import decimal

        return pa.array([decimal.Decimal("12345678901234567890.5")] * n, pa.decimal128(38, 1))
    if kind == "bool":
        return pa.array([True, False] * n)[:n]
    if kind == "binary":
        return pa.array([b"\xff\xfe", b"ok"] * n, pa.binary())[:n]
    if kind == "large_string":
        return pa.array(["a", "\u200b", "b c"] * n, pa.large_string())[:n]
    if kind == "dictionary":
        return pa.array(["x", "y"] * n).dictionary_encode()[:n]
    if kind == "list":
        return pa.array([[1, 2], None, []] * n)[:n]
    if kind == "struct":
        return pa.array([{"a": 1}] * n)
    if kind == "null":
        return pa.nulls(n)
    if kind == "duration":
        return pa.array([1, 2**62] * n, pa.duration("ns"))[:n]
    if kind == "date64":
        return pa.array([0, 2**62] * n, pa.date64())[:n]
    if kind == "time32":
        return pa.array([1, 2] * n, pa.time32("s"))[:n]
    if kind == "fixed_binary":
        return pa.array([b"abcd"] * n, pa.binary(4))
    return pa.array([f"v{i}" for i in range(n)])  # "string"


KINDS = ["string", "int8", "int64", "uint8", "uint64", "float16", "float64", "decimal", "bool",
         "binary", "large_string", "dictionary", "list", "struct", "null", "duration", "date64",
         "time32", "fixed_binary"]  # fmt: skip


@settings(FAST, max_examples=400)
@given(
    kinds=st.fixed_dictionaries(
        {name: st.sampled_from(KINDS) for name in ("user_id", "item_id", "rating", "timestamp")}
    ),
    extra=st.sampled_from([None, "origin", "parent_user", "score", "split"]),
    extra_kind=st.sampled_from(KINDS),
    n=st.integers(1, 4),
)
def test_parquet_columns_of_any_type(
    kinds: dict[str, str], extra: str | None, extra_kind: str, n: int
) -> None:
    CASES["parquet_types"] += 1
    columns = {name: hostile_array(kind, n) for name, kind in kinds.items()}
    if extra is not None:
        columns[extra] = hostile_array(extra_kind, n)
    sink = io.BytesIO()
    try:
        pq.write_table(pa.table(columns), sink)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return  # a type Parquet itself cannot store
    with tempfile.TemporaryDirectory() as tmp:
        load_or_refuse(write(tmp, "p.parquet", sink.getvalue()))


def test_enough_hostile_cases_ran(capsys: pytest.CaptureFixture[str]) -> None:
    if any(CASES[name] == 0 for name in FAMILIES):
        pytest.skip("only part of this module ran")
    total = sum(CASES.values())
    with capsys.disabled():
        print(f"\nhostile generated cases run: {total} ({dict(CASES)})")
    assert total >= MINIMUM_CASES
