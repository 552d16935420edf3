"""Folding a batch of events into per-key deltas."""

from __future__ import annotations

import dataclasses
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from streams.bench.synthetic import synthetic_events
from streams.projection.decode import Event
from streams.projection.fold import by_partition, fold, newest, unique


def test_fold_counts_wins_sizes_games_and_routes_per_key() -> None:
    batch = [
        _event("a", winner=2, players=4, game_id=1, route="kafka"),
        _event("b", winner=2, players=5, game_id=1, route="rabbitmq"),
        _event("c", winner=3, players=4, game_id=3, route="kafka"),
    ]
    deltas = fold(batch)
    assert deltas.events == 3
    assert deltas.wins == Counter({2: 2, 3: 1})
    assert deltas.sizes == Counter({4: 2, 5: 1})
    assert deltas.games == Counter({1: 2, 3: 1})
    assert deltas.routes == Counter({"kafka": 2, "rabbitmq": 1})


@given(st.integers(0, 300), st.integers(0, 2**32))
def test_every_aggregate_of_a_fold_sums_to_the_number_of_events(count: int, seed: int) -> None:
    deltas = fold(synthetic_events(count, seed=seed))
    for counter in (deltas.wins, deltas.sizes, deltas.games, deltas.routes):
        assert sum(counter.values()) == count


def test_unique_keeps_the_first_copy_of_a_repeated_event_id() -> None:
    first, second = _event("a", winner=1), _event("a", winner=2)
    assert unique([first, _event("b"), second]) == [first, _event("b")]


def test_by_partition_groups_events_keeping_their_order() -> None:
    a, b, c = (
        dataclasses.replace(_event(i), partition=p) for i, p in (("a", 1), ("b", 0), ("c", 1))
    )
    assert by_partition([a, b, c]) == {1: [a, c], 0: [b]}


def test_newest_returns_the_latest_events_newest_first() -> None:
    batch = [dataclasses.replace(_event(str(i)), occurred_at_ms=1000 + i) for i in range(15)]
    assert [e.event_id for e in newest(batch, 3)] == ["14", "13", "12"]


def _event(
    event_id: str, winner: int = 1, players: int = 4, game_id: int = 1, route: str = "kafka"
) -> Event:
    return Event(event_id, "r", game_id, "Random", players, winner, route, "gw", 1, 1)
