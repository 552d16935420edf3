"""Freshness says when a store was read and how far its projection lags."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from views.models import Freshness


@given(st.integers(0, 2**40), st.integers(0, 2**40))
def test_lag_is_read_time_minus_projection_time_never_negative(read: int, projected: int) -> None:
    freshness = Freshness.at(projected, as_of_ms=read)

    assert freshness.lag_ms == max(0, read - projected)
    assert freshness.as_of_ms == read


def test_an_empty_store_has_unknown_lag() -> None:
    freshness = Freshness.at(None, as_of_ms=123)

    assert (freshness.projected_at_ms, freshness.lag_ms) == (None, None)
