"""A corpus of hostile data files in every format the bundled sources read, made at test time.

Three kinds of case, each written into its own folder:

- the same small ratings table rendered in each of 12 layouts (CSV, TSV, gzipped CSV, JSON
  lines, Parquet, RecBole, MovieLens 100K / 1M / 25M, Amazon 2018 / 2023, MIND), once with
  each hostile value in a user, item, rating or time field (``VALUES``);
- each layout's bytes broken structurally (``BREAKS``: line endings, ``null`` lines, deep
  nesting, huge fields, truncation, invalid UTF-8...);
- Parquet columns of unusual types, and special files (FIFOs, links to devices or nowhere).

``build(folder)`` writes them all and returns the cases; ``corpus_runner.py`` runs commands on
them in a child process, which may crash or hang without taking the test run down.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

BASE_TIME = 881_250_949


@dataclass(frozen=True)
class Case:
    name: str
    ref: str  # what to load (absolute path, or e.g. "hf:...")
    options: tuple[str, ...] = ()
    loads: bool | None = None  # True/False when the outcome is known, None when either is fine


@dataclass
class Row:
    user: Any
    item: Any
    rating: Any
    time: Any
    raw: set[str] = field(default_factory=set)  # fields holding a hostile value as written


def base_rows() -> list[Row]:
    return [
        Row(str(u), str(10 + (u * 3 + k) % 7), str(1 + (u + k) % 5), str(BASE_TIME + 100 * u + k))
        for u in range(1, 9)
        for k in range(5)
    ]


# -- layouts: rows -> files ---------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _number(value: Any) -> Any:
    """A JSON number for a plain numeric string, else the value as it is."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value) if value.strip() not in ("", "nan", "inf") else value
            except ValueError:
                return value
    return value


def _delimited(rows: list[Row], header: list[str] | None, sep: str, quote: bool) -> bytes:
    out = io.StringIO()
    if quote:
        writer = csv.writer(out, delimiter=sep, lineterminator="\n")
        if header:
            writer.writerow(header)
        for r in rows:
            writer.writerow([_text(r.user), _text(r.item), _text(r.rating), _text(r.time)])
    else:
        lines = [sep.join(header)] if header else []
        lines += [sep.join(_text(v) for v in (r.user, r.item, r.rating, r.time)) for r in rows]
        out.write("\n".join(lines) + "\n")
    return out.getvalue().encode("utf-8", "surrogatepass")


def _jsonl(rows: list[Row], keys: tuple[str, str, str, str], time_scale: int = 1) -> bytes:
    lines = []
    for r in rows:
        time = _number(r.time)
        if isinstance(time, int) and "time" not in r.raw:
            time *= time_scale
        values = (r.user, r.item, _number(r.rating), time)
        lines.append(json.dumps(dict(zip(keys, values))))
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def _parquet(rows: list[Row]) -> bytes:
    def column(values: list[Any]) -> pa.Array:
        for kind in (pa.int64(), pa.float64()):
            try:
                return pa.array([_number(v) for v in values], kind)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                continue
        return text([_text(v) for v in values])

    def text(values: list[str]) -> pa.Array:
        try:
            return pa.array(values, pa.string())
        except UnicodeEncodeError:  # a lone surrogate: stored as the bytes it would take
            return pa.array([v.encode("utf-8", "surrogatepass") for v in values], pa.binary())

    table = pa.table(
        {
            "user_id": text([_text(r.user) for r in rows]),
            "item_id": text([_text(r.item) for r in rows]),
            "rating": column([r.rating for r in rows]),
            "timestamp": column([r.time for r in rows]),
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def _mind(rows: list[Row]) -> bytes:
    lines = []
    for k, r in enumerate(rows, start=1):
        plain = str(r.time).isdigit() and "time" not in r.raw
        when = f"11/15/2019 8:{k % 60:02d}:22 AM" if plain else _text(r.time)
        lines.append(f"{k}\tU{_text(r.user)}\t{when}\t\tN{_text(r.item)}-1")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


Layout = Callable[[list[Row]], dict[str, bytes]]
LAYOUTS: dict[str, tuple[str, Layout]] = {  # name: (ref inside the case folder, writer)
    "csv": ("r.csv", lambda rows: {"r.csv": _delimited(rows, _HEADER, ",", True)}),
    "tsv": ("r.tsv", lambda rows: {"r.tsv": _delimited(rows, _HEADER, "\t", False)}),
    "csv.gz": (
        "r.csv.gz",
        lambda rows: {"r.csv.gz": gzip.compress(_delimited(rows, _HEADER, ",", True), mtime=0)},
    ),
    "jsonl": (
        "r.jsonl",
        lambda rows: {"r.jsonl": _jsonl(rows, ("user", "item", "rating", "time"))},
    ),
    "parquet": ("r.parquet", lambda rows: {"r.parquet": _parquet(rows)}),
    "recbole": (
        "toy",
        lambda rows: {
            "toy/toy.inter": _delimited(
                rows,
                ["user_id:token", "item_id:token", "rating:float", "timestamp:float"],
                "\t",
                False,
            )
        },
    ),
    "ml-100k": ("ml", lambda rows: {"ml/u.data": _delimited(rows, None, "\t", False)}),
    "ml-1m": ("ml", lambda rows: {"ml/ratings.dat": _delimited(rows, None, "::", False)}),
    "ml-25m": (
        "ml",
        lambda rows: {
            "ml/ratings.csv": _delimited(
                rows, ["userId", "movieId", "rating", "timestamp"], ",", True
            )
        },
    ),
    "amazon-2018": (
        "Toys_5.json.gz",
        lambda rows: {
            "Toys_5.json.gz": gzip.compress(
                _jsonl(rows, ("reviewerID", "asin", "overall", "unixReviewTime")), mtime=0
            )
        },
    ),
    "amazon-2023": (
        "Books.jsonl",
        lambda rows: {
            "Books.jsonl": _jsonl(rows, ("user_id", "parent_asin", "rating", "timestamp"), 1000)
        },
    ),
    "mind": ("behaviors.tsv", lambda rows: {"behaviors.tsv": _mind(rows)}),
}
_HEADER = ["user_id", "item_id", "rating", "timestamp"]


# -- hostile values ------------------------------------------------------------------------------

DEEP = "[" * 20_000 + "]" * 20_000
VALUES: list[tuple[str, Any]] = [  # (field, value)
    ("user", ""),
    ("user", " "),
    ("user", "\u00a0"),
    ("user", "\u200b"),
    ("user", "\ufeff"),
    ("user", "1e300"),
    ("user", "x" * 200_000),
    ("user", "a,b"),
    ("user", 'say "hi"'),
    ("user", "line\nbreak"),
    ("user", "cr\rinside"),
    ("user", "\x00"),
    ("user", "\ud800"),
    ("user", None),
    ("user", 1e300),
    ("user", [1, 2]),
    ("user", {"a": 1}),
    ("user", True),
    ("user", DEEP),
    ("item", ""),
    ("item", "\t"),
    ("item", "\u3000"),
    ("item", 2.5),
    ("item", "::"),
    ("rating", "0x10"),
    ("rating", "NaN"),
    ("rating", "inf"),
    ("rating", "1e400"),
    ("rating", "4,5"),
    ("rating", ""),
    ("rating", "9" * 400),
    ("rating", "\u0664"),
    ("rating", True),
    ("rating", [4]),
    ("time", "1600000000000"),
    ("time", "9223372036854775807"),
    ("time", "18446744073709551615"),
    ("time", "-5"),
    ("time", "1.5"),
    ("time", "1e300"),
    ("time", "2020-13-45"),
    ("time", "yesterday"),
    ("time", ""),
    ("time", None),
]


def with_value(field_name: str, value: Any) -> list[Row]:
    rows = base_rows()
    setattr(rows[3], field_name, value)
    rows[3].raw.add(field_name)
    return rows


# -- structural breaks (on the bytes of a layout's main file) ----------------------------------


def _insert_line(data: bytes, line: bytes, after: int = 1) -> bytes:
    lines = data.split(b"\n")
    return b"\n".join([*lines[:after], line, *lines[after:]])


BREAKS: dict[str, Callable[[bytes], bytes]] = {
    "cr only": lambda d: d.replace(b"\n", b"\r"),
    "crlf": lambda d: d.replace(b"\n", b"\r\n"),
    "lf cr": lambda d: d.replace(b"\n", b"\n\r"),
    "byte order mark": lambda d: b"\xef\xbb\xbf" + d,
    "null first": lambda d: b"null\n" + d,
    "null line": lambda d: _insert_line(d, b"null"),
    "number line": lambda d: _insert_line(d, b"42"),
    "deep line": lambda d: _insert_line(d, DEEP.encode()),
    "deep object line": lambda d: _insert_line(d, b'{"a":' * 20_000 + b"1" + b"}" * 20_000),
    "huge line": lambda d: _insert_line(d, b"y" * 3_000_000),
    "invalid utf-8": lambda d: _insert_line(d, d.split(b"\n")[1] + b"\xff\xfe"),
    "nul byte": lambda d: d[: len(d) // 2] + b"\x00" + d[len(d) // 2 :],
    "half": lambda d: d[: len(d) // 2],
    "empty": lambda d: b"",
    "first line only": lambda d: d.split(b"\n")[0] + b"\n",
    "blank lines": lambda d: d.replace(b"\n", b"\n\n\n"),
    "whitespace lines": lambda d: _insert_line(d, b"   \t "),
    "lone quote": lambda d: _insert_line(d, b'"'),
    "repeated 400 times": lambda d: d + b"\n".join(d.split(b"\n")[1:]) * 400,
    "random bytes": lambda d: bytes((i * 73 + 41) % 256 for i in range(2_000)),
}


def _apply_break(files: dict[str, bytes], main: str, brk: Callable[[bytes], bytes]) -> None:
    data = files[main]
    if main.endswith(".gz"):
        files[main] = gzip.compress(brk(gzip.decompress(data)), mtime=0)
    elif main.endswith(".parquet"):
        files[main] = brk(data)  # the bytes of a Parquet file, broken
    else:
        files[main] = brk(data)


# -- Parquet types and special files -------------------------------------------------------------

TYPED: dict[str, pa.Array] = {
    "int8": pa.array([-128, 127, 1, 2], pa.int8()),
    "uint64": pa.array([0, 2**64 - 1, 1, 2], pa.uint64()),
    "int64 extremes": pa.array([-(2**63), 2**63 - 1, 1, 2], pa.int64()),
    "float 1e300": pa.array([1e300, -1e-300, 1.0, 2.0]),
    "decimal": pa.array([1, 2, 3, 4], pa.int64()).cast(pa.decimal128(22, 2)),
    "bool": pa.array([True, False, True, False]),
    "binary": pa.array([b"\xff\xfe", b"ok", b"a", b"b"]),
    "large_string": pa.array(["a", "\u200b", "b", "c"], pa.large_string()),
    "dictionary": pa.array(["x", "y", "x", "z"]).dictionary_encode(),
    "list": pa.array([[1], [], None, [2, 3]]),
    "struct": pa.array([{"a": 1}, {"a": 2}, None, {"a": 3}]),
    "null": pa.nulls(4),
    "duration": pa.array([1, 2**62, 3, 4], pa.duration("ns")),
    "date": pa.array([0, 20_000, 1, 2], pa.int32()).cast(pa.date32()),
    "timestamp ns": pa.array([0, 2**62, 1, 2], pa.int64()).cast(pa.timestamp("ns")),
    "timestamp tz": pa.array([0, 10**9, 1, 2], pa.int64()).cast(pa.timestamp("s", "UTC")),
    "time of day": pa.array([1, 2, 3, 4], pa.time32("s")),
    "fixed binary": pa.array([b"abcd"] * 4, pa.binary(4)),
}


def _typed_parquet(column: str, values: pa.Array) -> bytes | None:
    table = {
        "user_id": pa.array(["1", "2", "3", "4"]),
        "item_id": pa.array(["10", "11", "12", "13"]),
        column: values,
    }
    sink = pa.BufferOutputStream()
    try:
        pq.write_table(pa.table(table), sink)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return bytes(sink.getvalue().to_pybytes())


def _special(folder: Path, name: str, kind: str) -> Path | None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            return None
        os.mkfifo(path)
    elif kind == "device link":
        if not Path("/dev/zero").exists():
            return None
        path.symlink_to("/dev/zero")
    elif kind == "dangling link":
        path.symlink_to(folder / "nowhere")
    elif kind == "link loop":
        path.symlink_to(path)
    elif kind == "folder":
        path.mkdir()
    return path


# -- the corpus ---------------------------------------------------------------------------------


def _write(folder: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def build(root: Path) -> list[Case]:
    """Write every case under ``root`` (one folder each) and return them."""
    cases: list[Case] = []

    def add(name: str, files: dict[str, bytes], ref: str, loads: bool | None = None) -> None:
        folder = root / f"c{len(cases):04d}"
        _write(folder, files)
        cases.append(Case(name, str(folder / ref), loads=loads))

    for layout, (ref, writer) in LAYOUTS.items():
        add(f"{layout}: well formed", writer(base_rows()), ref, loads=True)
        for field_name, value in VALUES:
            add(
                f"{layout}: {field_name} = {value!r:.30}",
                writer(with_value(field_name, value)),
                ref,
            )
        main = next(iter(writer(base_rows())))
        for name, brk in BREAKS.items():
            files = writer(base_rows())
            _apply_break(files, main, brk)
            add(f"{layout}: {name}", files, ref)
    for column in ("user_id", "item_id", "rating", "timestamp"):
        for kind, values in TYPED.items():
            data = _typed_parquet(column, values)
            if data is not None:
                add(f"parquet: {column} of type {kind}", {"t.parquet": data}, "t.parquet")
    for name in ("x.csv", "x.jsonl", "x.parquet", "x.inter", "ml/u.data", "Books.jsonl"):
        for kind in ("fifo", "device link", "dangling link", "link loop", "folder"):
            folder = root / f"c{len(cases):04d}"
            path = _special(folder, name, kind)
            if path is not None:
                ref = str(path.parent if name.startswith("ml/") else path)
                cases.append(Case(f"special {kind}: {name}", ref, loads=False))
    return cases
