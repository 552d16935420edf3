"""Synthetic events follow the game rules and pass validation."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from streams.bench.synthetic import synthetic_events, winner_for
from streams.projection.decode import Event, decode, encode


@given(st.integers(1, 5), st.integers(1, 200), st.integers(0, 2**32))
def test_every_rule_picks_a_winner_among_the_players(game: int, players: int, seed: int) -> None:
    winner = winner_for(game, players, random.Random(seed))
    assert 1 <= winner <= players
    if game == 4 and players >= 2:
        assert winner % 2 == 0
    if game == 5:
        assert winner % 2 == 1


def test_synthetic_events_are_distinct_and_valid() -> None:
    batch = synthetic_events(500, route="rabbitmq", seed=7)
    assert len({e.event_id for e in batch}) == 500
    assert all(isinstance(decode(encode(e)), Event) for e in batch)
