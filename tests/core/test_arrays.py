"""The sort-based set helpers give exactly numpy's answers."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays as np_arrays

from recaug_core import arrays

keys = np_arrays(np.int64, st.integers(0, 80), elements=st.integers(-20, 20))


@settings(max_examples=200, deadline=None)
@given(values=keys, candidates=keys)
def test_same_answers_as_numpy(values, candidates):
    assert np.array_equal(arrays.unique(values), np.unique(values))
    distinct, inverse = arrays.unique_inverse(values)
    expected, expected_inverse = np.unique(values, return_inverse=True)
    assert np.array_equal(distinct, expected) and np.array_equal(inverse, expected_inverse)
    _, first_rows = np.unique(values, return_index=True)
    first = np.zeros(len(values), dtype=bool)
    first[first_rows] = True
    assert np.array_equal(arrays.first_occurrences(values), first)
    assert np.array_equal(arrays.isin(values, candidates), np.isin(values, candidates))


def test_isin_keeps_the_shape_of_a_matrix():
    grid = np.array([[1, 2], [3, 4]])
    assert arrays.isin(grid, np.array([4, 1])).tolist() == [[True, False], [False, True]]
