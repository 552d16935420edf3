"""Percentiles are nearest-rank: always a value that was observed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.report.stats import Latency, percentile, rate, ratio

samples = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1)


def test_the_median_of_four_is_the_second_smallest_not_an_average() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0


def test_the_99th_percentile_of_a_hundred_is_the_99th_value() -> None:
    assert percentile([float(n) for n in range(1, 101)], 99) == 99.0


@given(samples, st.floats(min_value=0.01, max_value=100))
def test_a_percentile_is_one_of_the_samples(values: list[float], q: float) -> None:
    assert percentile(values, q) in values


@given(samples)
def test_percentiles_never_decrease_with_q(values: list[float]) -> None:
    summary = Latency.of(values)

    assert summary is not None
    assert summary.p50_ms <= summary.p95_ms <= summary.p99_ms <= max(values) + 1e-3


@pytest.mark.parametrize("q", [0, -1, 100.5])
def test_a_percentile_outside_0_to_100_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], q)


def test_no_samples_give_no_summary_and_no_percentile() -> None:
    assert Latency.of([]) is None
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_rates_and_ratios_of_nothing_are_zero_or_unknown() -> None:
    assert rate(10, 0) == 0.0
    assert rate(10, 2) == 5.0
    assert ratio(3, 0) is None
    assert ratio(3, 2) == 1.5
