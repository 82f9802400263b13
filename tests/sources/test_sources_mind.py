"""The `mind` source: clicks from behaviors.tsv, items from news.tsv."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

from recaug_core import DataError
from recaug_core.loading import pick_source
from recaug_sources import samples
from recaug_sources.mind import MindSource

T0 = 1573808122  # 11/15/2019 8:55:22 AM (UTC), U1's first impression


def rows_of(data, user: str) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    table = data.interactions.filter(pc.equal(data.interactions.column("user_id"), user))
    return list(zip(table.column("item_id").to_pylist(), table.column("timestamp").to_pylist()))


def test_history_precedes_the_first_impression_and_clicks_are_timed(tmp_path: Path) -> None:
    ref = samples.write("mind", tmp_path)
    assert pick_source(ref).name == "mind"
    data = MindSource().load(ref)
    assert len(data) == samples.MIND_INTERACTIONS
    # U1: history N10 N11 once (not once per impression), then the click N12 at its time
    assert sorted(rows_of(data, "U1"), key=lambda r: (r[1], r[0])) == [
        ("N10", T0 - 1),
        ("N11", T0 - 1),
        ("N12", T0),
    ]
    # U2 has no history; two clicks in one impression at 9:00:00 AM
    assert sorted(rows_of(data, "U2")) == [("N13", T0 + 278), ("N14", T0 + 278)]
    assert data.interactions.column("rating").null_count == len(data)  # clicks: implicit
    assert data.items is not None
    assert data.items.column_names == ["item_id", "category", "subcategory", "title", "abstract"]


def test_without_history(tmp_path: Path) -> None:
    data = MindSource({"history": False}).load(samples.write("mind", tmp_path))
    assert len(data) == 6
    assert sorted(rows_of(data, "U4")) == [("N15", 1573933510)]


def test_unlabelled_impressions_of_a_test_file_are_not_clicks(tmp_path: Path) -> None:
    path = tmp_path / "behaviors.tsv"
    path.write_text("1\tU9\t11/20/2019 10:00:00 AM\tN1 N2\tN3 N4\n")
    data = MindSource().load(str(path))
    assert sorted(data.interactions.column("item_id").to_pylist()) == ["N1", "N2"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2\tU9\t2019-11-20 10:00\tN1\tN3-1", r"line 2, column 'time': time '2019-11-20 10:00'"),
        (
            "2\tU9\t11/20/2019 10:00:00 AM\tN1\tN3-2",
            r"line 2, column 'impressions': impression 'N3-2'",
        ),
        ("2\tU9\t11/20/2019 10:00:00 AM\tN1\t-1", r"line 2, column 'impressions': impression '-1'"),
        ("2\t\t11/20/2019 10:00:00 AM\tN1\tN3-1", r"line 2, column 'user_id': empty user id"),
        (
            "2\tU9\t11/20/2019 10:00:00 AM\tN1",
            r"line 2: expected 5 fields separated by tabs, found 4",
        ),
    ],
)
def test_bad_behaviour_lines(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "behaviors.tsv"
    path.write_text(f"1\tU1\t11/15/2019 8:55:22 AM\tN10\tN12-1\n{line}\n")
    with pytest.raises(DataError, match=message):
        MindSource().load(str(path))
