"""`recaug data info DATA --json` for every source, found by path or forced by --source."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

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
    tmp_path: Path, cli: Callable[..., object], sample: str
) -> None:
    ref = samples.write(sample, tmp_path)
    result = cli("data", "info", ref, "--json")
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    info = json.loads(result.out)  # type: ignore[attr-defined]
    source, rows, users, items = EXPECTED[sample]
    assert info["source"]["source"] == source
    assert (info["interactions"], info["users"], info["items"]) == (rows, users, items)


def test_demo_info_json(cli: Callable[..., object]) -> None:
    result = cli("data", "info", "demo", "--json", "-s", "users=30", "-s", "items=20")
    assert result.code == 0
    assert json.loads(result.out)["source"]["source"] == "demo"  # type: ignore[attr-defined]


def test_source_option_forces_a_reader(tmp_path: Path, cli: Callable[..., object]) -> None:
    folder = Path(samples.write("recbole", tmp_path))
    inter = folder / "toy.inter"
    # a RecBole file read as plain TSV keeps its typed column names
    result = cli("data", "info", str(inter), "--source", "table", "-s", "format=tsv", "--json")
    assert result.code == 2  # type: ignore[attr-defined]
    assert "missing required column 'user_id'" in result.err  # type: ignore[attr-defined]
    mapped = cli(
        "data", "info", str(inter), "--source", "table", "-s", "format=tsv",
        "-s", "user=user_id:token", "-s", "item=item_id:token", "--json",
    )  # fmt: skip
    assert mapped.code == 0, mapped.err  # type: ignore[attr-defined]
    assert json.loads(mapped.out)["interactions"] == 12  # type: ignore[attr-defined]


def test_cleaning_options_on_the_command_line(tmp_path: Path, cli: Callable[..., object]) -> None:
    ref = samples.write("movielens-25m", tmp_path)
    positives = json.loads(cli("data", "info", ref, "--min-rating", "4", "--json").out)  # type: ignore[attr-defined]
    assert positives["source"]["cleaning"]["below_min_rating_removed"] == 6
    assert positives["interactions"] == 6
    core = json.loads(cli("data", "info", ref, "--kcore", "2", "--json").out)  # type: ignore[attr-defined]
    assert core["source"]["cleaning"]["kcore_removed"] == 1  # item 13 has one rating
    assert (core["interactions"], core["items"]) == (11, 6)  # the catalog keeps item 13
    emptied = cli("data", "info", ref, "--min-rating", "4", "--kcore", "2")
    assert emptied.code == 2  # type: ignore[attr-defined]
    assert "no interactions left" in emptied.err  # type: ignore[attr-defined]
