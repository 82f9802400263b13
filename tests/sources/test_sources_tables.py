"""The `table` source: column matching, formats, compression and precise errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recaug_core import DataError
from recaug_core.loading import load_data, pick_source
from recaug_sources import samples
from recaug_sources.tables import TableSource


def load(path: Path | str, **options: object):  # type: ignore[no-untyped-def]
    return TableSource(options).load(str(path))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_aliases_map_common_column_names(tmp_path: Path) -> None:
    data = load(samples.write("table-folder", tmp_path))
    first = data.interactions.slice(0, 1).to_pylist()[0]
    assert (first["user_id"], first["item_id"], first["rating"]) == ("u1", "m10", 4.0)
    assert first["timestamp"] == 881250949
    assert data.items is not None and data.items.column("title")[5].as_py() == 'The "Late" Ferry'
    assert data.users is not None and data.users.column_names == ["user_id", "age", "gender"]


def test_explicit_mapping_beats_aliases_and_keeps_leading_zeros(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "who,what,user_id,stars\n007,0042,zz,4\n008,0042,zz,5\n")
    data = load(path, user="who", item="what")
    assert data.interactions.column("user_id").to_pylist() == ["007", "008"]
    assert data.interactions.column("item_id").to_pylist() == ["0042", "0042"]
    assert data.interactions.column("rating").to_pylist() == [4.0, 5.0]


def test_explicit_mapping_to_a_missing_column_names_the_option(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "a,b\n1,2\n")
    with pytest.raises(
        DataError, match=r"option user=who: no such column \(columns present: a, b\)"
    ):
        load(path, user="who", item="b")


def test_headerless_file_with_column_names(tmp_path: Path) -> None:
    path = write(tmp_path / "x.txt", "1 5 3\n2 6 4\n")
    data = load(path, format="csv", delimiter=" ", header=False, columns="user,item,rating")
    assert data.interactions.column("item_id").to_pylist() == ["5", "6"]


def test_headerless_file_without_names_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "1,5\n")
    with pytest.raises(DataError, match="header=false needs the column names"):
        load(path, header=False)


def test_iso_times_and_millisecond_times_become_seconds(tmp_path: Path) -> None:
    iso = write(tmp_path / "iso.csv", "user,item,date\na,b,2001-09-09T01:46:40Z\na,c,\n")
    assert load(iso).interactions.column("timestamp").to_pylist() == [1_000_000_000, None]
    ms = write(tmp_path / "ms.csv", "user,item,ts\na,b,1000000000999\n")
    data = load(ms, time_unit="ms")
    assert data.interactions.column("timestamp").to_pylist() == [1_000_000_000]
    fractional = write(tmp_path / "f.csv", "user,item,timestamp\na,b,881250949.7\n")
    assert load(fractional).interactions.column("timestamp").to_pylist() == [881250949]


def test_compressed_csv_and_folder_file(tmp_path: Path) -> None:
    plain = Path(samples.write("table-csv", tmp_path))
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "interactions.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    assert TableSource.can_load(str(folder))
    assert load(folder).interactions.equals(load(plain).interactions)


def test_latin1_file_with_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("user,item,title\nJosé,i1,Amélie\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"x.csv, line 2: text is not valid UTF-8"):
        load(path)
    assert load(path, encoding="latin-1").interactions.column("user_id")[0].as_py() == "José"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user,item,rating\na,b,NaN\n", r"line 2, column 'rating': value nan is not a finite"),
        ("user,item,rating\na,b,4\nc,d,inf\n", r"line 3, column 'rating': value inf"),
        ("user,item,rating\na,b,4\n\nc,d,five\n", r"line 4, column 'rating': value 'five'"),
        ("user,item,timestamp\na,b,-5\n", r"line 2, column 'timestamp': negative timestamp -5"),
        (
            "user,item,timestamp\na,b,1.5e300\n",
            r"line 2, column 'timestamp': timestamp 1.5e\+300 is not seconds since 1970",
        ),
        ("user,item\na,b\nc\n", r"line 3: expected 2 fields separated by commas, found 1"),
        ("user,item\na,b,c\n", r"line 2: expected 2 fields separated by commas, found 3"),
        ("user,item,user\na,b,c\n", r"line 1: column 'user' appears twice in the header"),
        ("user,item\n", r"no data rows"),
        ("user;item;rating\na;b;4\n", r"line 1: .*separated by semicolons: pass -s delimiter=';'"),
        ("rating,item\n4,b\n", r"missing required column 'user_id'"),
        ("user,item\n,b\n", r"line 2, column 'user_id': empty id"),
        ("user,item\na,1.5\n", None),  # a text id such as "1.5" is a valid id
    ],
)
def test_bad_rows_are_named_by_line(tmp_path: Path, text: str, message: str | None) -> None:
    path = write(tmp_path / "bad.csv", text)
    if message is None:
        assert len(load(path)) == 1
        return
    with pytest.raises(DataError, match=message) as info:
        load(path)
    assert str(info.value).startswith(str(path))


def test_a_late_bad_number_is_found_past_the_first_block(tmp_path: Path) -> None:
    rows = "".join(f"u{i},i{i % 97},{i % 5 + 1}\n" for i in range(300_000))
    path = write(tmp_path / "big.csv", "user,item,rating\n" + rows + "u1,i1,oops\n")
    with pytest.raises(DataError, match=r"line 300002, column 'rating': value 'oops'"):
        load(path)


def test_a_line_longer_than_a_block_still_loads(tmp_path: Path) -> None:
    long_title = "x" * (17 << 20)  # beyond pyarrow's 16 MiB first block
    path = write(tmp_path / "wide.csv", f"user,item,title\na,b,{long_title}\nc,d,short\n")
    data = load(path)
    assert len(data) == 2
    assert len(data.interactions.column("title")[0].as_py()) == len(long_title)


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"user_id": ["a", "b"], "item_id": ["c", None]}), path)
    with pytest.raises(DataError, match=r"x.parquet, row 2, column 'item_id': missing value"):
        load(path)
    (tmp_path / "empty.parquet").write_bytes(b"")
    with pytest.raises(DataError, match="file is empty"):
        load(tmp_path / "empty.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load(tmp_path / "junk.parquet")


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", '{"user": "a", "item": "b"}\n\n[1, 2]\n')
    with pytest.raises(DataError, match=r"x.jsonl, line 3: expected a JSON object, got list"):
        load(path)
    path = write(tmp_path / "y.jsonl", '{"user": "a", "item": "b"}\n{"user": "a", "item": \n')
    with pytest.raises(DataError, match=r"y.jsonl, line 2: not valid JSON"):
        load(path)


def test_truncated_gzip_is_reported(tmp_path: Path) -> None:
    whole = gzip.compress(b"user,item\n" + b"".join(b"u%d,i%d\n" % (i, i) for i in range(5000)))
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut.csv.gz"):
        load(path)


def test_unknown_extension_is_not_guessed(tmp_path: Path) -> None:
    path = write(tmp_path / "data.xyz", "user,item\na,b\n")
    with pytest.raises(Exception, match="no data source recognises this file"):
        pick_source(str(path))
    with pytest.raises(DataError, match=r"unknown file type '.xyz'.*-s format="):
        load(path)
    assert len(load(path, format="csv")) == 1


def test_cleaning_options_apply_to_table_data(tmp_path: Path) -> None:
    text = "user,item,rating,timestamp\na,x,5,1\na,x,2,9\na,y,1,3\nb,x,4,2\nb,y,5,4\n"
    path = write(tmp_path / "c.csv", text)
    from recaug_core.clean import CleanOptions

    latest = load_data(str(path)).dataset.interactions
    assert latest.num_rows == 4  # a's repeated x keeps the later row (rating 2)
    assert sorted(latest.column("rating").to_pylist()) == [1, 2, 4, 5]
    positive = load_data(str(path), clean_options=CleanOptions(min_rating=4)).dataset
    assert len(positive) == 2
    repeats = load_data(str(path), clean_options=CleanOptions(keep_repeats=True)).dataset
    assert len(repeats) == 5


def test_layout_options_describe_the_interactions_file_only(tmp_path: Path) -> None:
    write(tmp_path / "interactions.txt", "u1;i1\nu2;i2\n")
    write(tmp_path / "items.csv", "item_id,title\ni1,One\ni2,Two\n")
    data = load(
        tmp_path / "interactions.txt",
        format="csv",
        delimiter=";",
        header=False,
        columns="user,item",
        items=str(tmp_path / "items.csv"),
    )
    assert data.items is not None and data.items.column("title").to_pylist() == ["One", "Two"]
