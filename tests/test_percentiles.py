"""Percentiles are nearest-rank: always a value that was observed, from samples or a histogram."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squidstream.percentiles import histogram_percentile, percentile

samples = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1)


def test_the_median_of_four_is_the_second_smallest_not_an_average() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0


def test_the_99th_percentile_of_a_hundred_is_the_99th_value() -> None:
    assert percentile([float(n) for n in range(1, 101)], 99) == 99.0


@given(samples, st.floats(min_value=0.01, max_value=100))
def test_a_percentile_is_one_of_the_samples(values: list[float], q: float) -> None:
    assert percentile(values, q) in values


@pytest.mark.parametrize("q", [0, -1, 100.5])
def test_a_percentile_outside_0_to_100_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], q)


def test_no_samples_give_no_percentile() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    with pytest.raises(ValueError, match="no samples"):
        histogram_percentile({5.0: 0}, 50)


@given(samples, st.floats(min_value=0.01, max_value=100))
def test_a_histogram_percentile_is_the_percentile_of_the_samples_it_counts(
    values: list[float], q: float
) -> None:
    assert histogram_percentile(Counter(values), q) == percentile(values, q)
