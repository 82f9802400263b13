"""Splits: disjoint, complete, seeded, and faithful to each protocol's promise."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from recaug_core import DataError, Dataset, RecaugError, SplitSpec, split_dataset
from recaug_sources.world import demo_world


@pytest.fixture(scope="module")
def demo():
    return demo_world(n_users=150, n_items=80, n_interactions=3000)


def pairs(part):
    t = part.interactions
    return set(zip(t.column("user_id").to_pylist(), t.column("item_id").to_pylist()))


@pytest.mark.parametrize(
    "protocol", ["random-by-user", "temporal-by-user", "leave-one-out", "global-temporal"]
)
def test_parts_are_disjoint_and_complete(demo, protocol):
    split = split_dataset(demo, SplitSpec(protocol=protocol), seed=1)
    train, valid, test = pairs(split.train), pairs(split.valid), pairs(split.test)
    assert not (train & valid or train & test or valid & test)
    assert len(split.train) + len(split.valid) + len(split.test) == len(demo)
    assert split.table.num_rows == len(demo)
    assert split.train.item_index == demo.item_index  # same integer ids everywhere


def test_random_split_is_seeded(demo):
    a = split_dataset(demo, seed=3).table.column("split")
    b = split_dataset(demo, seed=3).table.column("split")
    c = split_dataset(demo, seed=4).table.column("split")
    assert a.equals(b) and not a.equals(c)


def test_random_split_ratios_per_user(demo):
    split = split_dataset(demo, SplitSpec(ratios=(0.8, 0.1, 0.1)), seed=0)
    assert abs(len(split.test) / len(demo) - 0.1) < 0.03
    assert abs(len(split.valid) / len(demo) - 0.1) < 0.03


def test_leave_one_out_holds_out_each_users_last_two_by_time(demo):
    split = split_dataset(demo, SplitSpec(protocol="leave-one-out"))
    table = split.table
    for user in ["u0001", "u0042", "u0100"]:
        rows = table.filter(pc.equal(table.column("user_id"), user)).sort_by("timestamp")
        labels = rows.column("split").to_pylist()
        assert labels[-1] == "test" and labels[-2] == "valid"
        assert set(labels[:-2]) == {"train"}


def test_temporal_by_user_keeps_the_past_for_training(demo):
    split = split_dataset(demo, SplitSpec(protocol="temporal-by-user"))
    train_last = split.train.interactions.group_by("user_id").aggregate([("timestamp", "max")])
    test_first = split.test.interactions.group_by("user_id").aggregate([("timestamp", "min")])
    joined = train_last.join(test_first, "user_id")
    assert pc.all(
        pc.less_equal(joined.column("timestamp_max"), joined.column("timestamp_min"))
    ).as_py()


def test_global_temporal_cuts_by_time(demo):
    split = split_dataset(demo, SplitSpec(protocol="global-temporal"))
    assert (
        pc.max(split.train.interactions.column("timestamp")).as_py()
        <= pc.min(split.test.interactions.column("timestamp")).as_py()
    )


def test_users_with_too_few_rows_stay_in_train():
    data = Dataset(
        pa.table(
            {
                "user_id": ["a", "a", "b", "b", "b", "b", "b"],
                "item_id": ["1", "2", "1", "2", "3", "4", "5"],
                "timestamp": [1, 2, 1, 2, 3, 4, 5],
            }
        )
    )
    split = split_dataset(data, SplitSpec(protocol="leave-one-out"))
    assert pairs(split.train) >= {("a", "1"), ("a", "2")}
    assert pairs(split.test) == {("b", "5")}


def test_given_split_reads_a_column():
    data = Dataset(
        pa.table(
            {
                "user_id": ["a", "a", "a"],
                "item_id": ["1", "2", "3"],
                "split": ["train", "Validation", "test"],
            }
        )
    )
    split = split_dataset(data, SplitSpec(protocol="given"))
    assert [len(split.train), len(split.valid), len(split.test)] == [1, 1, 1]
    bad = Dataset(pa.table({"user_id": ["a"], "item_id": ["1"], "split": ["later"]}))
    with pytest.raises(DataError, match="row 1, column 'split': split value 'later'"):
        split_dataset(bad, SplitSpec(protocol="given"))


def test_temporal_protocols_need_timestamps():
    data = Dataset(pa.table({"user_id": ["a"] * 4, "item_id": list("1234")}))
    with pytest.raises(RecaugError, match="needs timestamps"):
        split_dataset(data, SplitSpec(protocol="leave-one-out"))


def test_synthetic_rows_cannot_be_split():
    data = Dataset(pa.table({"user_id": ["a"], "item_id": ["1"], "origin": ["gan"]}))
    with pytest.raises(RecaugError, match="only real interactions"):
        split_dataset(data)


def test_bad_ratios_are_rejected(recaug):
    result = recaug("evaluate", "--backend", "pop", "--ratios", "0.5,0.5,0.5")
    assert result.code == 2 and "--ratios" in result.err
    assert np.isclose(sum(SplitSpec().ratios), 1.0)


def _interactions(rows):
    return Dataset(pa.table({"user_id": [u for u, _ in rows], "item_id": [i for _, i in rows]}))


def test_given_split_from_its_own_file(tmp_path):
    data = _interactions([("a", "1"), ("a", "2"), ("a", "3"), ("b", "1"), ("b", "4")])
    split_file = tmp_path / "split.csv"
    split_file.write_text(
        "user_id,item_id,split,extra\n"
        "a,1,train,x\na,2,valid,x\na,3,test,x\nb,1,Train,x\nb,4,TEST,x\n"
        "c,9,train,x\n"  # a pair the (cleaned) data does not hold: ignored
    )
    split = split_dataset(data, SplitSpec(protocol="given", file=str(split_file)))
    assert pairs(split.train) == {("a", "1"), ("b", "1")}
    assert pairs(split.valid) == {("a", "2")}
    assert pairs(split.test) == {("a", "3"), ("b", "4")}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("user,item,split\na,1,train\n", "split.csv, line 1: a split file needs the columns"),
        ("user_id,item_id,split\na,1,train\na,2,later\n", "line 3, column 'split': split value"),
        ("user_id,item_id,split\na,1,train\na,1,test\n", "line 3: the pair ('a', '1') is given"),
        ("user_id,item_id,split\na,1,train\n", "1 interaction(s) have no row in the split file"),
    ],
)
def test_a_bad_split_file_is_named_with_its_line(tmp_path, content, message):
    data = _interactions([("a", "1"), ("a", "2")])
    split_file = tmp_path / "split.csv"
    split_file.write_text(content)
    with pytest.raises(DataError) as caught:
        split_dataset(data, SplitSpec(protocol="given", file=str(split_file)))
    assert message in str(caught.value)


def test_given_without_a_split_column_points_to_the_split_file():
    data = _interactions([("a", "1")])
    with pytest.raises(RecaugError, match="--split-file FILE") as caught:
        split_dataset(data, SplitSpec(protocol="given"))
    assert "has none" in str(caught.value) and "[split]" in str(caught.value)


def test_a_split_file_needs_the_given_protocol():
    with pytest.raises(ValueError, match='protocol = "given"'):
        SplitSpec(protocol="random-by-user", file="split.csv")


def test_a_fingerprint_without_a_split_file_is_unchanged():
    # folders written before `file` existed must still resume
    assert SplitSpec().model_dump() == {
        "protocol": "random-by-user",
        "ratios": (0.8, 0.1, 0.1),
        "column": "split",
    }


def test_train_share_thins_training_rows_only():
    from recaug_core.testing import tiny_dataset

    data = tiny_dataset()
    full = split_dataset(data, SplitSpec(), seed=4)
    thin = split_dataset(data, SplitSpec(train_share=0.2), seed=4)
    assert thin.valid.interactions.equals(full.valid.interactions)
    assert thin.test.interactions.equals(full.test.interactions)
    full_lengths = full.train.user_lengths()
    thin_lengths = thin.train.user_lengths()
    have = full_lengths > 0
    assert (thin_lengths[have] >= 1).all()  # every user keeps at least one training row
    expected = np.maximum(1, np.round(full_lengths[have] * 0.2))
    assert (thin_lengths[have] == expected).all()
    kept = set(
        zip(*(thin.train.interactions.column(c).to_pylist() for c in ("user_id", "item_id")))
    )
    every = set(
        zip(*(full.train.interactions.column(c).to_pylist() for c in ("user_id", "item_id")))
    )
    assert kept <= every
    assert thin.info()["train_share"] == 0.2 and "train_share" not in full.info()
    again = split_dataset(data, SplitSpec(train_share=0.2), seed=4)
    assert again.train.interactions.equals(thin.train.interactions)


def test_train_share_from_the_command_line(recaug):
    import json

    result = recaug(
        "evaluate",
        "demo",
        "-s",
        "users=150",
        "-s",
        "items=80",
        "-s",
        "interactions=2500",
        "--backend",
        "pop",
        "--train-share",
        "0.5",
        "--json",
    )
    assert result.code == 0, result.err
    split = json.loads(result.out)["split"]
    assert split["train_share"] == 0.5
    bad = recaug("evaluate", "--backend", "pop", "--train-share", "0")
    assert bad.code == 2 and "--train-share" in bad.err
