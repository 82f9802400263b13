"""`recaug export`: the same split, readable by other toolkits."""

from __future__ import annotations

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest


@pytest.fixture
def run(recaug, toy_plugin, tmp_path):
    out = tmp_path / "run"
    result = recaug(
        "augment",
        "demo",
        "-s",
        "users=60",
        "-s",
        "items=40",
        "-s",
        "interactions=700",
        "--strategy",
        "toy",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    return out


def test_recbole_atomic_files(run, recaug, tmp_path):
    target = tmp_path / "bench"
    assert recaug("export", run, "--format", "recbole", "--out", target).code == 0
    train = (target / "bench.train.inter").read_text().splitlines()
    assert train[0] == "user_id:token\titem_id:token\trating:float\ttimestamp:float"
    augmented = pq.read_table(run / "augmented.parquet")
    assert len(train) - 1 == augmented.num_rows
    split = pq.read_table(run / "split.parquet").to_pydict()
    tests = sum(1 for s in split["split"] if s == "test")
    assert len((target / "bench.test.inter").read_text().splitlines()) - 1 == tests
    header = (target / "bench.item").read_text().splitlines()[0]
    assert header.startswith("item_id:token\ttitle:token_seq")


def test_real_only_csv_export(run, recaug, tmp_path):
    target = tmp_path / "csv"
    assert recaug("export", run, "--format", "csv", "--out", target, "--real-only").code == 0
    train = pcsv.read_csv(target / "train.csv")
    assert set(train.column("origin").to_pylist()) == {"real"}


def test_export_of_a_missing_run(recaug, tmp_path):
    result = recaug("export", tmp_path / "nope", "--format", "csv", "--out", tmp_path / "x")
    assert result.code == 2 and "not a recaug run folder" in result.err
