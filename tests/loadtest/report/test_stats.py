"""Latency summaries never decrease with the percentile; rates of nothing are zero."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loadtest.report.stats import Latency, rate, ratio

samples = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1)


@given(samples)
def test_percentiles_never_decrease_with_q(values: list[float]) -> None:
    summary = Latency.of(values)

    assert summary is not None
    assert summary.p50_ms <= summary.p95_ms <= summary.p99_ms <= max(values) + 1e-3


def test_no_samples_give_no_summary() -> None:
    assert Latency.of([]) is None


def test_rates_and_ratios_of_nothing_are_zero_or_unknown() -> None:
    assert rate(10, 0) == 0.0
    assert rate(10, 2) == 5.0
    assert ratio(3, 0) is None
    assert ratio(3, 2) == 1.5
