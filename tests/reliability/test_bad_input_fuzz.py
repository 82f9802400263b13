"""Generated malformed inputs (hypothesis): every case loads correctly or fails with a
RecaugError of one sentence that names the file, line, row or option. Never another
exception (the CLI's "internal error"), never a file written.

The loaders run in-process through ``load_data`` (the code path of every command) and the
option parsers through their functions, so that thousands of cases take seconds; a smaller
share goes through the real command line. ``test_enough_cases_ran`` checks (and prints) the
number of cases.
"""

from __future__ import annotations

import gzip
import io
import json
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaug_core import RecaugError
from recaug_core.loading import load_data
from recaug_sources import samples

CASES: Counter[str] = Counter()
FUZZ_TESTS = ("loaders", "source_options", "option_parsers", "cli")
MINIMUM_CASES = 2_000
FAST = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,  # the same cases on every run: a failure reproduces
)


def _sample_files() -> list[tuple[dict[str, bytes], str, str]]:
    """({relative path: bytes}, file to mutate, ref to load) for every family's sample."""
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in (
            "table-csv",
            "table-folder",
            "recbole",
            "movielens-100k",
            "movielens-1m",
            "movielens-25m",
            "amazon-2023",
            "amazon-2018",
            "table-jsonl-gz",
            "mind",
        ):
            folder = Path(tmp) / kind
            ref = Path(samples.write(kind, folder))
            if ref.suffix == ".gz":  # mutate the text, not the compressed bytes
                plain = ref.with_suffix("")
                plain.write_bytes(gzip.decompress(ref.read_bytes()))
                ref.unlink()
                ref = plain
            files = {
                str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
            }
            main = ref if ref.is_file() else _main_file(ref)
            found.append((files, str(main.relative_to(folder)), str(ref.relative_to(folder))))
    return found


def _main_file(folder: Path) -> Path:
    """The interactions file of a sample folder (the one worth breaking)."""
    names = ("interactions.tsv", "toy.inter", "u.data", "ratings.dat", "ratings.csv")
    names += ("Books.jsonl", "behaviors.tsv")
    return next(folder / name for name in names if (folder / name).is_file())


SAMPLES = _sample_files()
NASTY = [
    b",", b"\t", b"::", b"|", b";", b'"', b"\n", b"\r\n", b"\x00", b"\xff\xfe", b"\xe9",
    b"NaN", b"-inf", b"1e400", b"-1", b"", b" ", b"{", b"}", b"[1]", b'"x":', b"null",
    b"N1-2", b"-1", b"13/45/2019 99:00:00 XM", b"\xef\xbb\xbf", b"a" * 5000,
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> tuple[dict[str, bytes], str]:
    """(files, ref): a sample with 1-3 byte-level edits to its main file, some gzipped."""
    files, target, ref = draw(st.sampled_from(SAMPLES))
    data = files[target]
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(["cut", "delete", "insert", "replace", "lines", "swap"]))
        at = draw(st.integers(0, len(data)))
        if edit == "cut":
            data = data[:at]
        elif edit == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 40)) :]
        elif edit == "insert":
            data = data[:at] + draw(st.sampled_from(NASTY) | st.binary(max_size=8)) + data[at:]
        elif edit == "replace":
            old = draw(st.sampled_from([b",", b"\t", b"::", b"|", b"1", b"4", b'"', b"N1"]))
            data = data.replace(old, draw(st.sampled_from(NASTY)), draw(st.integers(1, 3)))
        elif edit == "lines":
            lines = data.split(b"\n")
            index = draw(st.integers(0, max(0, len(lines) - 1)))
            copies = draw(st.sampled_from([0, 2, 3]))
            lines[index : index + 1] = lines[index : index + 1] * copies
            data = b"\n".join(lines)
        else:
            lines = data.split(b"\n")
            if len(lines) > 2:
                i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
    files = dict(files)
    if target in ("ratings.csv", "interactions.tsv") and draw(st.booleans()):
        compressed = gzip.compress(data)  # the table source reads .gz; a half file is cut
        files.pop(target)
        ref = ref.replace(target, target + ".gz")
        target = target + ".gz"
        data = compressed[: draw(st.sampled_from([len(compressed), len(compressed) // 2]))]
    files[target] = data
    return files, ref


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")}


def check_load(
    ref: str, *, names: tuple[str, ...], source: str | None = None, **options: Any
) -> str:
    """Load ``ref``: it loads, or a one-sentence RecaugError mentions one of ``names``."""
    try:
        loaded = load_data(ref, source=source, source_options=options)
    except RecaugError as error:
        message = str(error)
        assert message and "\n" not in message, repr(message)
        assert "Traceback" not in message
        assert any(name in message for name in names), (names, message)
        return "error"
    data = loaded.dataset
    assert data.interactions.schema.names[:2] == ["user_id", "item_id"]
    assert len(data) > 0
    return "loaded"


@settings(FAST, max_examples=1_400)
@given(case=mutated())
def test_loaders_on_mutated_files(case: tuple[dict[str, bytes], str]) -> None:
    files, ref = case
    CASES["loaders"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_files(folder, files)
        before = listing(folder)
        # the message names the file at fault (or the data reference itself)
        check_load(str(folder / ref), names=(str(folder / ref), *(str(folder / f) for f in files)))
        assert listing(folder) == before


SOURCE_KEYS = {
    "table": ["format", "delimiter", "header", "columns", "user", "item", "rating",
              "timestamp", "time_unit", "encoding", "items", "users"],
    "recbole": ["user", "item", "rating", "timestamp", "time_unit"],
    "movielens": ["encoding", "items", "users"],
    "mind": ["history", "news"],
    "amazon": ["meta", "release"],
    "demo": ["users", "items", "interactions", "seed"],
}  # fmt: skip
VALUES = st.sampled_from(
    ["", "0", "1", "-3", "true", "no", "maybe", "csv", "tsv", "parquet", "xml", ",", "::",
     "\t", "ms", "s", "years", "latin-1", "utf-8", "klingon", "2018", "2023", "user_id",
     "nope", "a,b,c", "1e9", "NaN", "../missing.csv", "\x00"]
)  # fmt: skip
SAMPLE_OF_SOURCE = {
    "table": "table-csv",
    "recbole": "recbole",
    "movielens": "movielens-1m",
    "mind": "mind",
    "amazon": "amazon-2023",
}


@settings(FAST, max_examples=300)
@given(
    source=st.sampled_from(sorted(SOURCE_KEYS)),
    data=st.data(),
)
def test_source_options(source: str, data: st.DataObject) -> None:
    CASES["source_options"] += 1
    keys = SOURCE_KEYS[source] + ["colour", "User", ""]
    options = data.draw(st.dictionaries(st.sampled_from(keys), VALUES, max_size=3))
    if source == "demo":
        # demo accepts any size: keep generated worlds small
        options = {k: v for k, v in options.items() if k != "interactions"}
        options.update({"users": options.get("users", "20")[:3], "items": "15"})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ref = "demo" if source == "demo" else samples.write(SAMPLE_OF_SOURCE[source], folder)
        before = listing(folder)
        names = (ref, *options, *(str(v) for v in options.values()))
        check_load(ref, names=names, source=source, **options)
        assert listing(folder) == before


FILTER_SPECS = st.one_of(
    st.text(alphabet=":=,dedupe xyzk0-1", max_size=20),
    st.sampled_from(["dedupe", "dedupe:", "dedupe:x=1", ":", "nope", "dedupe:=", "dedupe,x"]),
)
NUMBERS = st.text(alphabet="0123456789.,-e +", max_size=14)


@settings(FAST, max_examples=400)
@given(
    kind=st.sampled_from(["filter", "ratios", "k", "option", "source-option"]),
    text=st.one_of(FILTER_SPECS, NUMBERS, st.text(max_size=12)),
)
def test_option_parsers(kind: str, text: str) -> None:
    """The functions behind --filter, --ratios, --k, -o and -s: a value or a named error."""
    from recaug_app.cli import error_line
    from recaug_app.commands.augment import filter_specs
    from recaug_app.commands.common import option_pairs, split_spec
    from recaug_app.commands.evaluate import parse_ks
    from recaug_core import create
    from recaug_core.settings import AugmentSettings

    CASES["option_parsers"] += 1
    try:
        if kind == "filter":
            settings = AugmentSettings(strategy="seq", filters=filter_specs([text])).resolved()
            assert all(f.name for f in settings.filters)
        elif kind == "ratios":
            spec = split_spec("random-by-user", text, "split")
            assert abs(sum(spec.ratios) - 1) < 1e-6
        elif kind == "k":
            assert all(k >= 1 for k in parse_ks(text))
        elif kind == "option":
            create("backends", "pop", option_pairs([text], "--option"))
        else:
            create("sources", "demo", option_pairs([text], "--source-option"))
    except RecaugError as error:
        message = error_line(error)  # as the CLI prints it
        flag = {"filter": "--filter", "ratios": "--ratios", "k": "--k"}.get(kind)
        mentions = [flag] if flag else ["--option", "--source-option", "option", "KEY=VALUE"]
        if kind == "filter":
            mentions += ["filter", "option"]
        assert any(m in message for m in mentions), message


CLI_OPTIONS = st.one_of(
    st.tuples(st.just("--ratios"), st.sampled_from(["0.8,0.1,0.1", "1,0,0", "0.5,0.5", "a,b,c",
                                                    "0.9,0.2,-0.1", "", "0,0.5,0.5"])),
    st.tuples(st.just("--filter"), FILTER_SPECS),
    st.tuples(st.just("-o"), st.sampled_from(["per_user=2", "per_user=-1", "per_user=x",
                                              "colour=red", "per_user", "=3"])),
    st.tuples(st.just("-s"), st.sampled_from(["users=25", "users=1", "items=0", "seed=x",
                                              "shape=round", "users"])),
    st.tuples(st.just("--budget"), st.sampled_from(["5", "-1", "many", ""])),
)  # fmt: skip


@settings(FAST, max_examples=60)
@given(extra=st.lists(CLI_OPTIONS, min_size=1, max_size=2))
def test_cli_augment_options(
    recaug: Callable[..., Any], toy_plugin: None, extra: list[tuple[str, str]]
) -> None:
    """Through the real command line: exit 0 with a complete run folder, or exit 2 with one
    sentence and no folder at all."""
    CASES["cli"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        args = ["augment", "demo", "-s", "users=25", "-s", "items=15", "-s", "interactions=300"]
        args += ["--strategy", "toy", "--out", str(out)]
        for flag, value in extra:
            args += [flag, value]
        result = recaug(*args)
        assert result.code in (0, 2), result.err
        assert "Traceback" not in result.err
        if result.code == 2:
            lines = [line for line in result.err.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), result.err
            assert not out.exists() or not any(out.iterdir())
        else:
            manifest = json.loads((out / "manifest.json").read_text())
            assert manifest["status"] == "done"
            for name in ("synthetic.parquet", "augmented.parquet", "split.parquet"):
                pq.read_table(out / name)  # complete, readable files
            assert not list(out.glob(".*.tmp-*"))


def test_a_parquet_file_cut_anywhere(tmp_path: Path) -> None:
    """Parquet bytes cut at every 7th position: always a named error, never a crash."""
    sink = io.BytesIO()
    pq.write_table(pa.table({"user_id": ["a", "b"], "item_id": ["x", "y"]}), sink)
    whole = sink.getvalue()
    for cut in range(0, len(whole), 7):
        CASES["parquet"] += 1
        path = tmp_path / f"cut{cut}.parquet"
        path.write_bytes(whole[:cut])
        assert check_load(str(path), names=(path.name,)) == "error"


def test_enough_cases_ran(capsys: pytest.CaptureFixture[str]) -> None:
    if any(CASES[name] == 0 for name in FUZZ_TESTS):
        pytest.skip("only part of this module ran")
    total = sum(CASES.values())
    with capsys.disabled():
        print(f"\nmalformed-input cases run: {total} ({dict(CASES)})")
    assert total >= MINIMUM_CASES
