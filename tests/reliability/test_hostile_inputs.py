"""One regression test per way hostile input used to crash, hang or be misread (issue 19).

Each bad input must end in exit code 2 and one sentence naming the file, line or option;
crashes of the process itself (a segmentation fault, a hang) are checked in a subprocess.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recaug_core.files import RunLock

TINY = ("-s", "users=30", "-s", "items=20", "-s", "interactions=300")
GOOD_ROWS = "".join(f"u{u},i{(u * 7 + k) % 12},{1 + k % 5}\n" for u in range(12) for k in range(6))


def experiment(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(
        text
        or 'seeds = [0]\n[dataset]\nref = "demo"\noptions = {users = 30, items = 20}\n'
        '[[backends]]\nname = "pop"\n'
    )
    return path


def one_sentence(result: Any, *says: str) -> str:
    """The single error line of a failed command, checked to name ``says``."""
    assert result.code == 2, (result.code, result.err[-2000:])
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err[-2000:]
    for part in says:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def cli(*args: Any, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`recaug ARGS` in a subprocess: a crash shows as a signal, a hang as a timeout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECAUG_")}
    env["RECAUG_PROGRESS"] = "0"
    return subprocess.run(
        [sys.executable, "-m", "recaug_app", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


# -- 1. what crashed Arrow's JSON reader (exit 139, no message) ---------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("lines", "line", "says"),
    [
        (["null", '{"user": "u1", "item": "i1"}'], 1, "expected a JSON object, got null"),
        (["", "  null", '{"user": "u1", "item": "i1"}'], 2, "got null"),
        (['{"user": "u1", "item": "i1"}', DEEP], 2, "nested"),
        (['{"user": "u1", "item": "i1"}', '{"user": "u2", "x": ' + DEEP + "}"], 2, "nested"),
    ],
    ids=["null first", "null after blank lines", "deep array line", "deep value in a field"],
)
def test_json_lines_that_crashed_the_reader(
    tmp_path: Path, lines: list[str], line: int, says: str
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = cli("data", "info", path)
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert f"events.jsonl, line {line}: " in done.stderr and says in done.stderr


def test_json_lines_with_invalid_text_are_refused_not_stored(tmp_path, recaug):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"user": "u1", "item": "i1"}\n{"user": "u\xff", "item": "i2"}\n')
    one_sentence(recaug("data", "info", bad), "bad.jsonl, line 2", "not valid UTF-8")
    half = tmp_path / "half.jsonl"
    half.write_text('{"user": "u1", "item": "i1"}\n{"user": "\\ud800", "item": "i2"}\n')
    one_sentence(recaug("data", "info", half), "half.jsonl, line 2", "surrogate")


# -- a crash or kill before any stage: no stale lock, no "unfinished run" to resume -------------


def test_a_run_killed_before_its_first_stage_does_not_block_the_next(tmp_path, recaug):
    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"status": "running", "stages": {}}))
    (out / ".lock").write_text(f"{2**22 + 12345} {socket.gethostname()}\n")  # no such process
    result = recaug("augment", "demo", *TINY, "--strategy", "seq", "--out", out)
    assert result.code == 0, result.err
    assert json.loads((out / "manifest.json").read_text())["status"] == "done"
    assert not (out / ".lock").exists()


def test_a_lock_naming_a_reused_pid_is_stale(tmp_path, recaug):
    """The lock's pid runs, but it is another process than the one that wrote the lock."""
    out = tmp_path / "run"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = RunLock(out)
        lock.acquire()
        fields = lock.path.read_text().split()
        lock.held = False  # leave the file behind, as a killed run would
        if fields[2] == "-":
            pytest.skip("no process start times on this system")
        fields[0] = str(sleeper.pid)  # same boot, start time of the writer: not the sleeper
        lock.path.write_text(" ".join(fields) + "\n")
        result = recaug("augment", "demo", *TINY, "--strategy", "seq", "--out", out)
        assert result.code == 0, result.err
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_lock_held_by_a_live_run_is_respected(tmp_path, recaug):
    out = tmp_path / "run"
    with RunLock(out):  # this process: alive, same start time
        result = recaug("augment", "demo", *TINY, "--strategy", "seq", "--out", out)
        one_sentence(result, "in use by another recaug run")


# -- 5. special files: refused before reading, never a hang or an endless read -----------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize("name", ["x.inter", "x.csv", "x.jsonl", "exp.toml"])
def test_a_fifo_is_refused_at_once(tmp_path, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    args = (
        ("run", fifo, "--out", tmp_path / "out")
        if name.endswith("toml")
        else ("data", "info", fifo)
    )
    done = cli(*args, timeout=30)
    assert done.returncode == 2 and "named pipe (FIFO), not a regular file" in done.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.parametrize("name", ["zero.csv", "zero.parquet", "exp.toml"])
def test_a_link_to_a_device_is_refused(tmp_path, recaug, name):
    link = tmp_path / name
    link.symlink_to("/dev/zero")
    if name.endswith("toml"):
        one_sentence(recaug("run", link, "--out", tmp_path / "out"), "is a device")
    else:
        one_sentence(recaug("data", "info", link), name, "is a device, not a regular file")


# -- 6. bad input that was an internal error (exit 1) -------------------------------------------


def test_carriage_return_line_endings(tmp_path, recaug):
    good = tmp_path / "mac.csv"
    good.write_bytes(b"user,item,rating\r" + GOOD_ROWS.replace("\n", "\r").encode())
    result = recaug("data", "info", good, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["interactions"] == 72
    short = tmp_path / "short.csv"
    short.write_bytes(b"user,item,rating\ru1,i1,4\ru2,i2\r")
    one_sentence(recaug("data", "info", short), "short.csv, line 3", "found 2")


def test_fields_over_the_csv_module_limit(tmp_path, recaug):
    huge = "x" * 200_000
    ok = tmp_path / "ok.csv"
    ok.write_text(f'user,item,note\nu1,i1,"{huge}"\nu2,i2,n\n')
    assert recaug("data", "info", ok).code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(f'user,item,note\nu1,i1,n\nu2,i2,"{huge}",surplus\n')
    one_sentence(recaug("data", "info", bad), "bad.csv, line 3", "expected 3 fields")


def test_milliseconds_in_a_seconds_column_are_named_alike_by_every_command(tmp_path, recaug):
    path = tmp_path / "ms.csv"
    path.write_text(
        "user,item,rating,timestamp\n"
        + "".join(
            f"u{u},i{k},{1 + (u + k) % 5},{1_600_000_000_000 + 1000 * (u * 10 + k)}\n"
            for u in range(12)
            for k in range(8)
        )
    )
    says = ("ms.csv, line 2", "1600000000000 is not seconds since 1970", "-s time_unit=ms")
    messages = {
        one_sentence(recaug("data", "info", path), *says),
        one_sentence(recaug("augment", path, "--strategy", "seq", "--out", tmp_path / "a"), *says),
        one_sentence(recaug("evaluate", path, "--backend", "pop"), *says),
    }
    assert len(messages) == 1  # the very same sentence
    assert not (tmp_path / "a").exists()
    fixed = ("-s", "time_unit=ms")
    assert recaug("data", "info", path, *fixed).code == 0
    assert recaug("augment", path, *fixed, "--strategy", "seq", "--out", tmp_path / "b").code == 0
    assert recaug("evaluate", path, *fixed, "--backend", "pop").code == 0


def parquet(path: Path, **columns: pa.Array | list[Any]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize(
    ("columns", "says"),
    [
        (
            {"timestamp": pa.array([1, 2**63 - 1], pa.int64())},
            ("row 2", "9223372036854775807 is not seconds since 1970"),
        ),
        (
            {"timestamp": pa.array([1, 2**64 - 1], pa.uint64())},
            ("row 2", "18446744073709551615 is not seconds since 1970"),
        ),
        ({"user_id": [1.0, 1e300]}, ("row 2", "'user_id'", "too large to be an exact whole")),
        ({"user_id": pa.array([0, 1], pa.int32()).cast(pa.date32())}, ("'user_id'", "date32")),
        ({"timestamp": pa.array([1, 2], pa.duration("s"))}, ("'timestamp'", "duration")),
    ],
    ids=["int64 max time", "uint64 time", "1e300 float id", "date as id", "duration as time"],
)
def test_parquet_values_out_of_any_sane_range(tmp_path, recaug, columns, says):
    table = {"user_id": ["a", "b"], "item_id": ["x", "y"], **columns}
    path = parquet(tmp_path / "t.parquet", **table)
    one_sentence(recaug("data", "info", path), "t.parquet", *says)


@pytest.mark.parametrize("command", ["augment", "evaluate"])
def test_a_negative_seed_is_a_usage_error(recaug, command):
    extra = ("--strategy", "seq", "--out", "never") if command == "augment" else ()
    one_sentence(recaug(command, "demo", *TINY, *extra, "--seed", "-1"), "--seed", "-1")
    assert not Path("never").exists()


def test_save_dir_naming_a_file_is_refused_before_training(tmp_path, recaug):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    started = time.perf_counter()
    result = recaug("evaluate", "demo", *TINY, "--backend", "embedding", "-o", f"save_dir={taken}")
    one_sentence(result, "option 'save_dir'", "exists and is not a folder")
    assert time.perf_counter() - started < 10 and taken.read_text() == "mine"


@pytest.mark.parametrize(
    "text",
    ["x = " + "[" * 50_000 + "]" * 50_000, "x = " + "{a=" * 3_000 + "1" + "}" * 3_000],
    ids=["arrays", "inline tables"],
)
def test_a_deeply_nested_experiment_file(tmp_path, recaug, text):
    path = tmp_path / "deep.toml"
    path.write_text(text + "\n")
    one_sentence(recaug("run", path, "--out", tmp_path / "out"), "deep.toml", "nested too deeply")


def test_an_out_folder_that_cannot_be_created(tmp_path, recaug):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker / "run", Path("/proc/recaug-cannot-write")):
        if not out.parent.exists():
            continue
        one_sentence(
            recaug("augment", "demo", *TINY, "--strategy", "seq", "--out", out),
            "cannot create the folder",
            str(out),
        )
        one_sentence(recaug("run", experiment(tmp_path), "--out", out), "cannot create the folder")


@pytest.mark.parametrize(
    ("strategy", "option"),
    [("lora-gen", "temperature=inf"), ("seq", "crop_rate=nan"), ("gan", "lr=-inf")],
)
def test_infinite_and_nan_options_are_refused_up_front(tmp_path, recaug, strategy, option):
    result = recaug(
        "augment", "demo", *TINY, "--strategy", strategy, "-o", option, "--out", tmp_path
    )
    one_sentence(result, f"option '{option.split('=')[0]}'", "finite number")


def test_a_min_rating_that_is_not_a_number(recaug):
    one_sentence(recaug("data", "info", "--min-rating", "nan"), "--min-rating nan")


# -- 8. input that was silently misread --------------------------------------------------------


def test_a_file_with_source_demo_is_not_ignored(tmp_path, recaug):
    path = tmp_path / "data.csv"
    path.write_text("user,item\nu1,i1\n")
    one_sentence(recaug("data", "info", path, "--source", "demo"), "data.csv", "demo source")


def test_an_origin_column_that_is_not_provenance(tmp_path, recaug):
    countries = tmp_path / "shops.csv"
    countries.write_text("user,item,origin\nu1,i1,real\nu2,i2,US\n")
    one_sentence(recaug("data", "info", countries), "shops.csv", "row 2", "'US' is not provenance")
    exported = tmp_path / "exported.csv"  # what `recaug export --format csv` writes
    exported.write_text("user_id,item_id,origin\nu1,i1,real\nu2,i2,seq\n")
    assert recaug("data", "info", exported).code == 0


@pytest.mark.parametrize(
    "blank", [" ", "\t ", "\u00a0", "\u200b", "\ufeff\u2060", "\u3000"], ids=repr
)
def test_ids_made_of_spaces_or_invisible_characters(tmp_path, recaug, blank):
    path = tmp_path / "ids.csv"
    path.write_text(f"user,item\nu1,i1\n{blank},i2\n", encoding="utf-8")
    one_sentence(recaug("data", "info", path), "ids.csv, line 3", "'user_id'", "only spaces")


def test_hexadecimal_numbers_are_not_read_as_decimal(tmp_path, recaug):
    path = tmp_path / "hex.csv"
    path.write_text("user,item,rating\nu1,i1,4\nu2,i2,0x10\n")
    one_sentence(recaug("data", "info", path), "hex.csv, line 3", "'0x10' is not a decimal")
    text = tmp_path / "text.csv"  # 0x in a text column is only text
    text.write_text("user,item,rating,title\nu1,i1,4,0x10 Hackers\nu2,i2,5,b\n")
    result = recaug("data", "info", text, "--json")
    assert result.code == 0 and json.loads(result.out)["rating"]["max"] == 5


def test_experiment_files_are_strictly_typed(tmp_path, recaug):
    path = experiment(tmp_path, 'seeds = [0, "1"]\n[[backends]]\nname = "pop"\n')
    one_sentence(recaug("run", path, "--out", tmp_path / "out"), "seeds[1]", "valid integer")


def test_a_csv_with_5000_columns_loads_quickly(tmp_path, recaug):
    names = ["user", "item"] + [f"c{i}" for i in range(4_998)]
    rows = [",".join([f"u{r}", f"i{r}"] + ["1"] * 4_998) for r in range(10)]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join([",".join(names), *rows]) + "\n")
    started = time.perf_counter()
    assert recaug("data", "info", path).code == 0
    assert time.perf_counter() - started < 10  # was over 60 s: quadratic in the columns


def test_a_huge_bad_value_is_not_echoed_whole(tmp_path, recaug):
    path = tmp_path / "big.csv"
    path.write_text("user,item,rating\nu1,i1,4\nu2,i2," + "x" * 10_000_000 + "\n")
    line = one_sentence(recaug("data", "info", path), "big.csv, line 3", "10,000,000 characters")
    assert len(line) < 500
    key = "k" * 100_000
    result = recaug("augment", "demo", "--strategy", "seq", "-o", f"{key}=1", "--out", tmp_path)
    assert len(one_sentence(result, "unknown option")) < 1_000
