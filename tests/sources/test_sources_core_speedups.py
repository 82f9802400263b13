"""The faster cleaning and splitting give exactly what the straightforward versions gave.

Each reference below is the plain algorithm the core used before it was made faster for tens
of millions of rows; hypothesis checks that both agree on many small, repetitive tables.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from recaug_core import normalize_interactions
from recaug_core.clean import _drop_repeats
from recaug_core.schema import constant_strings
from recaug_core.split import _order_by_user


def reference_drop_repeats(table: pa.Table, *, keep_all: bool) -> pa.Table:
    users = pc.index_in(table.column("user_id"), value_set=pc.unique(table.column("user_id")))
    items = pc.index_in(table.column("item_id"), value_set=pc.unique(table.column("item_id")))
    n_items = len(pc.unique(table.column("item_id")))
    pair = np.asarray(users.to_numpy(), dtype=np.int64) * n_items + np.asarray(items.to_numpy())
    time = np.asarray(pc.fill_null(table.column("timestamp"), -1).to_numpy(), dtype=np.int64)
    row = np.arange(table.num_rows)
    if keep_all:
        rating = pc.fill_null(table.column("rating").cast(pa.float64()), np.nan)
        bits = np.asarray(rating.to_numpy(), dtype=np.float64).view(np.int64)
        order = np.lexsort((row, bits, time, pair))
        same = (pair[order][1:] == pair[order][:-1]) & (time[order][1:] == time[order][:-1])
        same &= bits[order][1:] == bits[order][:-1]
        keep_sorted = np.r_[True, ~same]
    else:
        order = np.lexsort((row, time, pair))
        keep_sorted = np.r_[pair[order][1:] != pair[order][:-1], True]
    return table.take(pa.array(np.sort(order[keep_sorted])))


rows = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3", "u10"]),
        st.sampled_from(["a", "b", "c"]),
        st.one_of(st.none(), st.sampled_from([1.0, 2.5, 5.0])),
        st.one_of(st.none(), st.integers(0, 4)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(rows=rows, keep_all=st.booleans())
def test_drop_repeats_matches_the_plain_sort(rows: list[tuple], keep_all: bool) -> None:
    columns = list(zip(*rows))
    table = normalize_interactions(
        pa.table(
            {
                "user_id": pa.array(columns[0]),
                "item_id": pa.array(columns[1]),
                "rating": pa.array(columns[2], pa.float32()),
                "timestamp": pa.array(columns[3], pa.int64()),
            }
        )
    )
    assert _drop_repeats(table, keep_all=keep_all).equals(
        reference_drop_repeats(table, keep_all=keep_all)
    )


KEY_KINDS = [
    st.integers(0, 3),  # many ties
    st.integers(-(2**62), 2**62),  # wider than fits beside a user
    st.sampled_from([-0.0, 0.0, 0.25, -2.0, 1e300, float("inf"), float("-inf")]),
    st.floats(0, 1, exclude_max=True),  # like the random keys of random-by-user
]


@settings(max_examples=100, deadline=None)
@given(
    users=st.lists(st.integers(0, 70_000) | st.integers(0, 3), min_size=0, max_size=60),
    data=st.data(),
)
def test_order_by_user_matches_lexsort(users: list[int], data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KEY_KINDS))
    keys = data.draw(st.lists(kind, min_size=len(users), max_size=len(users)))
    user_array = np.array(users, dtype=np.int64)
    key_array = np.array(keys, dtype=np.float64 if not keys or isinstance(keys[0], float) else None)
    expected = np.lexsort((np.arange(len(users)), key_array, user_array))
    assert np.array_equal(_order_by_user(user_array, key_array), expected)


def test_constant_strings() -> None:
    for value, n in (("real", 3), ("", 2), ("lora-gen ✓", 4), ("x", 0)):
        array = constant_strings(value, n)
        array.validate(full=True)
        assert array.type == pa.string()
        assert array.to_pylist() == [value] * n
