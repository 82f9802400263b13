"""diversity: which users count as near-duplicates, which one stays, and that it scales."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pytest

from recaug_core import create, synthetic_table
from recaug_filters.minhash import band_layout, signatures
from recaug_filters.rows import binary_matrix


def users_with_sets(sets: dict[str, list[int]]) -> pa.Table:
    users = [user for user, items in sets.items() for _ in items]
    items = [f"x{item}" for chosen in sets.values() for item in chosen]
    return synthetic_table(users, items, "test", parent_user=None)


def dropped_users(result) -> list[str]:
    return sorted(set(result.rejected.column("user_id").to_pylist()))


def test_signature_agreement_estimates_jaccard():
    a = list(range(0, 60))
    b = list(range(20, 80))  # |a & b| = 40, |a | b| = 80: Jaccard 0.5
    rows = np.repeat([0, 1], 60)
    matrix = binary_matrix(rows, np.array(a + b), (2, 100))
    signature = signatures(matrix, 1024, seed=0)
    assert abs((signature[0] == signature[1]).mean() - 0.5) < 0.06


def test_band_layout_finds_pairs_at_the_threshold():
    bands, rows = band_layout(128, 0.8)
    assert bands * rows == 128
    assert 1 - (1 - 0.8**rows) ** bands >= 0.99
    # one more row per band (the next divisor) would miss too many pairs at the threshold
    wider = rows * 2
    assert 1 - (1 - 0.8**wider) ** (128 // wider) < 0.99


def test_a_user_is_dropped_only_for_a_kept_earlier_neighbour(split, ctx):
    # a~b and b~c (9/11 = 0.82) but not a~c (8/12 = 0.67): b goes, c stays with a.
    table = users_with_sets(
        {
            "syn-a": list(range(1, 11)),
            "syn-b": [*range(1, 10), 11],
            "syn-c": [*range(1, 9), 11, 12],
        }
    )
    result = create("filters", "diversity", {"threshold": 0.8}).apply(split.train, table, ctx)
    assert dropped_users(result) == ["syn-b"]
    assert result.stats["near_duplicate_pairs"] == 2


def test_threshold_is_inclusive_and_respected(split, ctx):
    table = users_with_sets({"syn-a": [1, 2, 3, 4], "syn-b": [1, 2, 3, 5]})  # Jaccard 0.6
    keep = create("filters", "diversity", {"threshold": 0.61}).apply(split.train, table, ctx)
    drop = create("filters", "diversity", {"threshold": 0.6}).apply(split.train, table, ctx)
    assert dropped_users(keep) == []
    assert dropped_users(drop) == ["syn-b"]


def test_small_sets_and_real_users_follow_the_options(split, ctx):
    real = split.train.user_index.to_ids([0, 1]).to_pylist()
    table = users_with_sets({"syn-a": [1], "syn-b": [1], real[0]: [5, 6, 7], real[1]: [5, 6, 7]})
    default = create("filters", "diversity").apply(split.train, table, ctx)
    assert dropped_users(default) == []  # one-item sets and real users are not compared
    everyone = create("filters", "diversity", {"scope": "all", "min_items": 1})
    assert dropped_users(everyone.apply(split.train, table, ctx)) == sorted([real[1], "syn-b"])


@pytest.mark.parametrize("bands", [3, 200])
def test_bands_must_divide_num_perm(bands):
    from recaug_core import OptionsError

    with pytest.raises(OptionsError, match="bands"):
        create("filters", "diversity", {"num_perm": 128, "bands": bands})


def test_finds_every_planted_near_duplicate_among_many_users(split, ctx):
    rng = np.random.default_rng(0)
    n_users, n_dupes, size = 20_000, 200, 10
    sets = {f"syn-{u}": rng.choice(5000, size, replace=False).tolist() for u in range(n_users)}
    for k in range(n_dupes):  # replace one of ten items: Jaccard 9/11
        twin = list(sets[f"syn-{k}"])
        twin[0] = 5000 + k
        sets[f"syn-twin-{k}"] = twin
    table = users_with_sets(sets)
    started = time.perf_counter()
    result = create("filters", "diversity").apply(split.train, table, ctx)
    elapsed = time.perf_counter() - started
    assert dropped_users(result) == sorted(f"syn-twin-{k}" for k in range(n_dupes))
    assert result.rejected.num_rows == n_dupes * size
    assert elapsed < 20  # about 1 s on 2 busy cores; generous for shared CI machines


def brute_force_greedy(sets: list[set[int]], threshold: float) -> list[int]:
    kept: list[int] = []
    dropped = []
    for position, items in enumerate(sets):
        if any(len(items & sets[k]) / len(items | sets[k]) >= threshold for k in kept):
            dropped.append(position)
        else:
            kept.append(position)
    return dropped


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_matches_the_exhaustive_pairwise_check(split, ctx, threshold):
    # 400 users over a pool of 25 items: many identical and overlapping sets
    rng = np.random.default_rng(5)
    sets = [set(rng.choice(25, rng.integers(2, 7), replace=False).tolist()) for _ in range(400)]
    table = users_with_sets({f"syn-{k:03d}": sorted(items) for k, items in enumerate(sets)})
    flt = create("filters", "diversity", {"threshold": threshold})
    result = flt.apply(split.train, table, ctx)
    expected = [f"syn-{k:03d}" for k in brute_force_greedy(sets, threshold)]
    assert len(expected) >= 9  # enough near-duplicates to make the comparison meaningful
    assert dropped_users(result) == expected
