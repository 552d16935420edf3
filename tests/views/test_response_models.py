"""Freshness says when a store was read and how far its projection lags; a game is its event."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from squidstream.contract import EVENT_FIELDS
from views.models import Freshness, Game


@given(st.integers(0, 2**40), st.integers(0, 2**40))
def test_lag_is_read_time_minus_projection_time_never_negative(read: int, projected: int) -> None:
    freshness = Freshness.at(projected, as_of_ms=read)

    assert freshness.lag_ms == max(0, read - projected)
    assert freshness.as_of_ms == read


def test_an_empty_store_has_unknown_lag() -> None:
    freshness = Freshness.at(None, as_of_ms=123)

    assert (freshness.projected_at_ms, freshness.lag_ms) == (None, None)


def test_a_game_answer_has_the_game_event_fields_in_proto_order() -> None:
    # The read API spells the fields for its schema; the proto owns them.
    assert tuple(Game.model_fields) == EVENT_FIELDS
