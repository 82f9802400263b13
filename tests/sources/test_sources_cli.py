"""`recaug data info DATA --json` for every source, found by path or forced by --source."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recaug_sources import samples

EXPECTED = {
    # sample: (source picked for its path, interactions, users, items)
    "table-csv": ("table", 12, 4, 6),
    "table-folder": ("table", 12, 4, 6),
    "table-jsonl-gz": ("table", 12, 4, 6),
    "table-parquet": ("table", 12, 4, 6),
    "recbole": ("recbole", 12, 4, 6),
    "movielens-100k": ("movielens", 9, 4, 6),
    "movielens-1m": ("movielens", 9, 4, 6),
    "movielens-25m": ("movielens", 12, 4, 6),
    "amazon-2018": ("amazon", 12, 4, 6),
    "amazon-2023": ("amazon", 12, 4, 6),
    "mind": ("mind", samples.MIND_INTERACTIONS, 4, 6),
    "hf-saved": ("hf", 12, 4, 6),
}


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_data_info_json_for_every_source(
    tmp_path: Path, recaug: Callable[..., Any], sample: str
) -> None:
    ref = samples.write(sample, tmp_path)
    result = recaug("data", "info", ref, "--json")
    assert result.code == 0, result.err
    info = json.loads(result.out)
    source, rows, users, items = EXPECTED[sample]
    assert info["source"]["source"] == source
    assert (info["interactions"], info["users"], info["items"]) == (rows, users, items)


def test_demo_info_json(recaug: Callable[..., Any]) -> None:
    result = recaug("data", "info", "demo", "--json", "-s", "users=30", "-s", "items=20")
    assert result.code == 0
    assert json.loads(result.out)["source"]["source"] == "demo"


def test_source_option_forces_a_reader(tmp_path: Path, recaug: Callable[..., Any]) -> None:
    folder = Path(samples.write("recbole", tmp_path))
    inter = folder / "toy.inter"
    # a RecBole file read as plain TSV keeps its typed column names
    result = recaug("data", "info", str(inter), "--source", "table", "-s", "format=tsv", "--json")
    assert result.code == 2
    assert "missing required column 'user_id'" in result.err
    mapped = recaug(
        "data", "info", str(inter), "--source", "table", "-s", "format=tsv",
        "-s", "user=user_id:token", "-s", "item=item_id:token", "--json",
    )  # fmt: skip
    assert mapped.code == 0, mapped.err
    assert json.loads(mapped.out)["interactions"] == 12


def test_cleaning_options_on_the_command_line(tmp_path: Path, recaug: Callable[..., Any]) -> None:
    ref = samples.write("movielens-25m", tmp_path)
    positives = json.loads(recaug("data", "info", ref, "--min-rating", "4", "--json").out)
    assert positives["source"]["cleaning"]["below_min_rating_removed"] == 6
    assert positives["interactions"] == 6
    core = json.loads(recaug("data", "info", ref, "--kcore", "2", "--json").out)
    assert core["source"]["cleaning"]["kcore_removed"] == 1  # item 13 has one rating
    assert (core["interactions"], core["items"]) == (11, 5)  # item 13 leaves the catalog too
    emptied = recaug("data", "info", ref, "--min-rating", "4", "--kcore", "2")
    assert emptied.code == 2
    assert "no interactions left" in emptied.err
