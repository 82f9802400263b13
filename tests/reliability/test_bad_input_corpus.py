"""A corpus of malformed inputs: each ends in exit code 2 and one sentence naming the file and
the line, row or option, or loads correctly. Never a traceback, never a file left behind.

Every input is fabricated here (a few bytes each); they go through the real command line,
in-process.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recaug_sources import samples


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, bytes]  # relative path -> content
    ref: str  # what to load, relative to the folder
    says: tuple[str, ...] = ()  # all of these appear in the message; () means it loads
    options: tuple[str, ...] = ()


def csv(text: str) -> bytes:
    return text.encode("utf-8")


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


GOOD = "user,item,rating,timestamp\nu1,i1,4,100\nu2,i2,5,200\n"
CASES = [
    Case("truncated csv", {"t.csv": csv(GOOD + "u3,i")}, "t.csv", ("t.csv", "line 4", "found 2")),
    Case(
        "truncated gzip",
        {"t.csv.gz": gz(csv(GOOD + "".join(f"u{i},i{i},4,{i}\n" for i in range(9000))))[:9000]},
        "t.csv.gz",
        ("t.csv.gz", "truncated or corrupt"),
    ),
    Case(
        "semicolons",
        {"s.csv": csv("user;item;rating\nu1;i1;4\n")},
        "s.csv",
        ("s.csv", "line 1", "delimiter=';'"),
    ),
    Case(
        "tabs in a .csv",
        {"t.csv": csv("user\titem\nu1\ti1\n")},
        "t.csv",
        ("t.csv", "line 1", "tabs"),
    ),
    Case(
        "missing item column",
        {"m.csv": csv("user,rating\nu1,4\n")},
        "m.csv",
        ("m.csv", "missing required column 'item_id'", "'user, rating'", "item=COLUMN"),
    ),
    Case(
        "extra field",
        {"e.csv": csv(GOOD + "u3,i3,4,300,extra\n")},
        "e.csv",
        ("e.csv", "line 4", "expected 4 fields", "found 5"),
    ),
    Case(
        "NaN rating",
        {"n.csv": csv(GOOD + "u3,i3,NaN,300\n")},
        "n.csv",
        ("n.csv", "line 4", "'rating'", "not a finite number"),
    ),
    Case(
        "infinite rating",
        {"n.csv": csv(GOOD + "u3,i3,-inf,300\n")},
        "n.csv",
        ("line 4", "'rating'", "-inf"),
    ),
    Case(
        "rating overflows to infinity",
        {"n.csv": csv(GOOD + "u3,i3,1e400,300\n")},
        "n.csv",
        ("line 4", "'rating'", "not a finite number"),
    ),
    Case(
        "negative timestamp",
        {"t.csv": csv(GOOD + "u3,i3,4,-1\n")},
        "t.csv",
        ("t.csv", "line 4", "negative timestamp -1"),
    ),
    Case(
        "duplicate header",
        {"d.csv": csv("user,item,user\nu1,i1,u2\n")},
        "d.csv",
        ("d.csv", "line 1", "'user' appears twice"),
    ),
    Case(
        "not UTF-8",
        {"l.csv": b"user,item\nu1,caf\xe9\n"},
        "l.csv",
        ("l.csv", "line 2", "not valid UTF-8", "encoding=latin-1"),
    ),
    Case("empty file", {"z.csv": b""}, "z.csv", ("z.csv", "file is empty")),
    Case("header only", {"h.csv": csv("user,item\n")}, "h.csv", ("h.csv", "no data rows")),
    Case("blank header", {"b.csv": csv("\nu1,i1\n")}, "b.csv", ("b.csv", "line 1", "blank")),
    Case("quoted separator in an id", {"q.csv": csv('user,item\n"u,1",i1\n')}, "q.csv"),
    Case("quoted newline in an id", {"q.csv": csv('user,item\n"u\n1",i1\nu2,i2\n')}, "q.csv"),
    Case(
        "unclosed quote",
        {"q.csv": csv('user,item\nu1,i1\n"u2,i2\n')},
        "q.csv",
        ("q.csv", "line 3", "not closed"),
    ),
    Case("byte order mark and CRLF", {"w.csv": b"\xef\xbb\xbfuser,item\r\nu1,i1\r\n"}, "w.csv"),
    Case(
        "whitespace line",
        {"w.csv": csv("user,item\nu1,i1\n   \nu2,i2\n")},
        "w.csv",
        ("w.csv", "line 3", "found 1"),
    ),
    Case(
        "empty id",
        {"e.csv": csv("user,item\nu1,i1\nu2,\n")},
        "e.csv",
        ("e.csv", "line 3", "'item_id'", "empty id"),
    ),
    Case(
        "bad number",
        {"b.csv": csv(GOOD + "u3,i3,four,300\n")},
        "b.csv",
        ("b.csv", "line 4", "'rating'", "'four' is not a number"),
    ),
    Case(
        "bad time",
        {"b.csv": csv(GOOD + "u3,i3,4,yesterday\n")},
        "b.csv",
        ("b.csv", "line 4", "'timestamp'", "'yesterday'"),
    ),
    Case("zero-byte parquet", {"z.parquet": b""}, "z.parquet", ("z.parquet", "empty")),
    Case(
        "not parquet",
        {"x.parquet": b"PAR1 but not really"},
        "x.parquet",
        ("x.parquet", "not a readable Parquet file"),
    ),
    Case(
        "fractional id in parquet",
        {"f.parquet": parquet(pa.table({"user_id": [1.0, 2.5], "item_id": ["a", "b"]}))},
        "f.parquet",
        ("f.parquet", "row 2", "'user_id'", "not a whole number"),
    ),
    Case(
        "JSON line that is not an object",
        {"j.jsonl": csv('{"user": "u1", "item": "i1"}\n"just text"\n')},
        "j.jsonl",
        ("j.jsonl", "line 2", "expected a JSON object, got text"),
    ),
    Case(
        "invalid JSON",
        {"j.jsonl": csv('{"user": "u1", "item": "i1"}\n{"user": }\n')},
        "j.jsonl",
        ("j.jsonl", "line 2", "not valid JSON"),
    ),
    Case(
        "JSON field changes kind",
        {"j.jsonl": csv('{"user": "u1", "item": "i1"}\n{"user": ["u2"], "item": "i2"}\n')},
        "j.jsonl",
        ("j.jsonl", "line 2", "field 'user' is list here but text before"),
    ),
    Case(
        "huge single line",  # beyond the JSON reader's first 16 MiB block
        {"h.jsonl": csv(json.dumps({"user": "u1", "item": "i1", "text": "x" * (17 << 20)}))},
        "h.jsonl",
    ),
    Case(
        "ragged rows",
        {"r.tsv": csv("user\titem\trating\nu1\ti1\t4\nu2\ti2\nu3\ti3\t5\t6\n")},
        "r.tsv",
        ("r.tsv", "line 3", "expected 3 fields separated by tabs, found 2"),
    ),
    Case(
        "unknown format",
        {"data.xyz": csv("user,item\nu1,i1\n")},
        "data.xyz",
        ("data.xyz", "no data source recognises", "--source"),
    ),
    Case(
        "unknown format forced to table",
        {"data.xyz": csv("user,item\nu1,i1\n")},
        "data.xyz",
        ("data.xyz", "unknown file type", "-s format="),
        ("--source", "table"),
    ),
    Case("no such file", {}, "missing.csv", ("missing.csv", "file not found")),
    Case(
        "a newline in the file name",
        {"x\ny.csv": csv("user,item\nu1,i1\nu2\n")},
        "x\ny.csv",
        ("x\\ny.csv", "line 3"),  # shown escaped: the message stays one line
    ),
    Case(
        "folder without interactions",
        {"f/readme.txt": b"hello"},
        "f",
        ("no data source recognises",),
    ),
    Case(
        "RecBole header without types",
        {"x.inter": csv("user_id\titem_id:token\nu1\ti1\n")},
        "x.inter",
        ("x.inter", "line 1", "not name:type"),
    ),
    Case(
        "RecBole bad float",
        {"x.inter": csv("user_id:token\titem_id:token\trating:float\nu1\ti1\tgood\n")},
        "x.inter",
        ("x.inter", "line 2", "'rating'"),
    ),
    Case(
        "MovieLens ratings.dat short line",
        {"ml/ratings.dat": csv("1::10::4::978300760\n2::11::5\n")},
        "ml",
        ("ratings.dat", "line 2", "expected 4 fields separated by '::', found 3"),
    ),
    Case(
        "MovieLens u.data with a letter rating",
        {"ml/u.data": csv("1\t10\t4\t881250949\n2\t11\tx\t881250950\n")},
        "ml",
        ("u.data", "line 2", "'rating'", "'x'"),
    ),
    Case(
        "Amazon review with a text rating",
        {
            "Toys.json.gz": gz(
                csv(
                    json.dumps({"reviewerID": "A", "asin": "B", "overall": 5, "unixReviewTime": 1})
                    + "\n"
                    + json.dumps(
                        {"reviewerID": "C", "asin": "D", "overall": "5", "unixReviewTime": 1}
                    )
                    + "\n"
                )
            )
        },
        "Toys.json.gz",
        ("Toys.json.gz", "line 2", "field 'overall' is text, expected number"),
    ),
    Case(
        "MIND time in another format",
        {"behaviors.tsv": csv("1\tU1\t2019-11-15 08:55\tN1\tN2-1\n")},
        "behaviors.tsv",
        ("behaviors.tsv", "line 1", "'time'"),
    ),
    Case(
        "MIND impression without a news id",
        {"behaviors.tsv": csv("1\tU1\t11/15/2019 8:55:22 AM\tN1\tN2-1 -0\n")},
        "behaviors.tsv",
        ("behaviors.tsv", "line 1", "impression '-0'"),
    ),
    Case("demo with a negative seed", {}, "demo", ("option 'seed'",), ("-s", "seed=-3")),
    Case("demo too large", {}, "demo", ("option 'users'",), ("-s", "users=10000000000")),
    Case("hf: without a name", {}, "hf:", ("'hf:'", "expected hf:NAME")),
    Case("hf: without a name but a config", {}, "hf::x", ("hf::x", "expected hf:NAME")),
    Case(
        "unknown source option",
        {"g.csv": csv(GOOD)},
        "g.csv",
        ("unknown option 'colour'", "valid options"),
        ("-s", "colour=red"),
    ),
    Case(
        "source option of the wrong type",
        {"g.csv": csv(GOOD)},
        "g.csv",
        ("option 'header'",),
        ("-s", "header=maybe"),
    ),
    Case(
        "delimiter that is not one ASCII character",
        {"g.csv": csv(GOOD)},
        "g.csv",
        ("option 'delimiter'", "one ASCII character"),
        ("-s", "delimiter=é"),
    ),
    Case(
        "unknown encoding",
        {"g.csv": csv(GOOD)},
        "g.csv",
        ("option 'encoding'", "unknown text encoding"),
        ("-s", "encoding=klingon"),
    ),
    Case(
        "source option that is not KEY=VALUE",
        {"g.csv": csv(GOOD)},
        "g.csv",
        ("--source-option", "KEY=VALUE"),
        ("-s", "header"),
    ),
    Case(
        "mapping to a column that is not there",
        {"g.csv": csv(GOOD)},
        "g.csv",
        ("g.csv", "option user=who: no such column"),
        ("-s", "user=who"),
    ),
    Case(
        "unknown source name",
        {"g.csv": csv(GOOD)},
        "g.csv",
        ("unknown source 'nope'",),
        ("--source", "nope"),
    ),
]


def write_case(folder: Path, case: Case) -> None:
    for relative, content in case.files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def assert_one_sentence(result: Any, says: tuple[str, ...]) -> None:
    assert result.code == 2, (result.code, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err and result.out == ""
    for part in says:
        assert part in lines[0], (part, lines[0])


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_malformed_input(tmp_path: Path, recaug: Callable[..., Any], case: Case) -> None:
    write_case(tmp_path, case)
    before = listing(tmp_path)
    named = case.ref == "demo" or case.ref.startswith("hf:")
    ref = case.ref if named else str(tmp_path / case.ref)
    result = recaug("data", "info", ref, *case.options, "--json")
    if case.says:
        assert_one_sentence(result, case.says)
    else:
        assert result.code == 0, result.err
        assert json.loads(result.out)["interactions"] >= 1
    assert listing(tmp_path) == before  # nothing written beside the input


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.says and not c.options][:12],
    ids=lambda c: c.name,
)
def test_augment_on_malformed_data_leaves_no_output(
    tmp_path: Path, recaug: Callable[..., Any], toy_plugin: None, case: Case
) -> None:
    write_case(tmp_path, case)
    out = tmp_path / "run"
    result = recaug("augment", str(tmp_path / case.ref), "--strategy", "toy", "--out", str(out))
    assert_one_sentence(result, case.says)
    assert not out.exists() or not any(out.iterdir())


def test_every_sample_loads(tmp_path: Path, recaug: Callable[..., Any]) -> None:
    """The well-formed counterpart of the corpus: each fabricated sample loads."""
    for kind in ("table-csv", "recbole", "movielens-1m", "amazon-2023", "mind"):
        ref = samples.write(kind, tmp_path / kind)
        assert recaug("data", "info", ref).code == 0
