"""privacy: distance to the closest real record, the real-to-real baseline, copied text."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from recaug_core import Dataset, create, synthetic_table, text_table
from recaug_core.pipeline import Generated, apply_filters


def user_rows(sets: dict[str, list[str]]) -> pa.Table:
    users = [user for user, items in sets.items() for _ in items]
    items = [item for chosen in sets.values() for item in chosen]
    return synthetic_table(users, items, "test", parent_user=None)


def history(train: Dataset, rank: int) -> tuple[str, list[str]]:
    """The ``rank``-th longest real training history (0: the longest)."""
    position = int(np.argsort(-train.user_lengths(), kind="stable")[rank])
    user = train.user_index.to_ids([position])[0].as_py()
    rows = train.interactions.filter(pc.equal(train.interactions.column("user_id"), user))
    return user, sorted(rows.column("item_id").to_pylist())


def test_drops_users_closer_than_min_distance_and_reports_dcr(split, ctx):
    user, items = history(split.train, 0)
    assert len(items) >= 10
    near = [*items[:-1], "never-seen"]  # Jaccard (n-1)/(n+1)
    n = len(items)
    table = user_rows({"syn-copy": items, "syn-near": near, "syn-far": ["a", "b", "c"]})
    flt = create("filters", "privacy", {"min_distance": 0.2})
    result = flt.apply(split.train, table, ctx)
    assert sorted(set(result.rejected.column("user_id").to_pylist())) == ["syn-copy", "syn-near"]
    assert result.stats["users_dropped"] == 2
    assert result.stats["exact_copy_rate_in"] == pytest.approx(1 / 3, abs=1e-4)
    assert result.stats["exact_copy_rate_kept"] == 0.0
    dcr_in = np.array([0.0, 1 - (n - 1) / (n + 1), 1.0])
    assert result.stats["dcr_in"]["p50"] == pytest.approx(np.median(dcr_in), abs=1e-4)
    assert result.stats["dcr_kept"]["p50"] == 1.0
    # rows of real users are not new records: never assessed, always kept
    assert flt.apply(split.train, user_rows({user: items[:3]}), ctx).rejected.num_rows == 0


def test_min_distance_zero_keeps_exact_copies(split, ctx):
    _, items = history(split.train, 1)
    flt = create("filters", "privacy", {"min_distance": 0.0})
    result = flt.apply(split.train, user_rows({"syn-copy": items}), ctx)
    assert result.rejected.num_rows == 0
    assert result.stats["exact_copy_rate_kept"] == 1.0


def dataset_of(sets: list[list[str]]) -> Dataset:
    users = [f"r{k}" for k, items in enumerate(sets) for _ in items]
    items = [item for chosen in sets for item in chosen]
    return Dataset(pa.table({"user_id": users, "item_id": items}))


@pytest.mark.parametrize(("sets", "expected"), [("triplets", 0.0), ("disjoint", 1.0)])
def test_baseline_is_real_users_against_other_real_users(ctx, sets, expected):
    if sets == "triplets":  # every set held by three users: a held-out user keeps a twin
        real = [[f"i{k}", f"i{k + 1}", f"i{k + 2}"] for k in range(40) for _ in range(3)]
    else:
        real = [[f"i{3 * k}", f"i{3 * k + 1}", f"i{3 * k + 2}"] for k in range(120)]
    train = dataset_of(real)
    result = create("filters", "privacy").apply(train, user_rows({"syn-x": ["i0", "q"]}), ctx)
    baseline = result.stats["dcr_real_baseline"]
    assert baseline["p05"] == baseline["p95"] == expected
    no_baseline = create("filters", "privacy", {"baseline_users": 0})
    assert "dcr_real_baseline" not in no_baseline.apply(train, user_rows({}), ctx).stats


def test_text_copying_a_long_run_of_training_words_is_dropped(split, ctx):
    description = split.train.items.column("description")[0].as_py()
    words = re.findall(r"\w+", description)  # how the filter splits words, too: sci-fi = sci fi
    assert len(words) >= 9
    copied = "Honestly, " + " ".join(words[:8]).upper() + " -- and more!"
    shorter = "Honestly " + " ".join(words[1:8]) + " plus more"  # only 7 words in a row
    texts = text_table(
        "item",
        ["i0001", "i0002", "i0003"],
        "gen_description",
        [copied, shorter, "Something new entirely"],
        "test",
    )
    result = create("filters", "privacy").apply_text(split.train, texts, ctx)
    assert result.rejected.column("id").to_pylist() == ["i0001"]
    assert result.rejected.column("reason").to_pylist() == [
        "privacy: copies a long word sequence of training text"
    ]
    stricter = create("filters", "privacy", {"max_ngram": 7}).apply_text(split.train, texts, ctx)
    assert stricter.rejected.column("id").to_pylist() == ["i0001", "i0002"]


def test_pipeline_writes_copied_text_to_the_rejected_text(split, ctx):
    description = split.train.items.column("description")[3].as_py()
    texts = text_table(
        "item",
        ["i0001", "i0002"],
        "gen_description",
        [description, "A fresh take on nothing at all"],
        "test",
    )
    generated = Generated(synthetic_table([], [], "test"), texts)
    result = apply_filters([create("filters", "privacy")], split.train, generated, ctx)
    assert result.text_rejected.column("id").to_pylist() == ["i0001"]
    assert result.text.column("id").to_pylist() == ["i0002"]
    assert result.filter_stats["privacy"]["text_rejected"] == 1
