"""A batch of events -> aggregated deltas, one entry per key (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from streams.projection.decode import Event

LAST_GAMES = 10


@dataclass(slots=True)
class Deltas:
    """What a batch adds to each aggregate; keys are plain ints and route names."""

    events: int = 0
    wins: Counter[int] = field(default_factory=Counter)
    sizes: Counter[int] = field(default_factory=Counter)
    games: Counter[int] = field(default_factory=Counter)
    routes: Counter[str] = field(default_factory=Counter)


def unique(events: Iterable[Event]) -> list[Event]:
    """Drop repeats of an event id inside one batch, keeping the first."""
    seen: set[str] = set()
    kept = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            kept.append(event)
    return kept


def fold(events: Iterable[Event]) -> Deltas:
    """Count wins per player, games per size, per game id and per route."""
    deltas = Deltas()
    for event in events:
        deltas.events += 1
        deltas.wins[event.winner] += 1
        deltas.sizes[event.players] += 1
        deltas.games[event.game_id] += 1
        deltas.routes[event.route] += 1
    return deltas


def by_partition(events: Iterable[Event]) -> dict[int, list[Event]]:
    """Group events by their source partition, keeping order inside each."""
    groups: dict[int, list[Event]] = {}
    for event in events:
        groups.setdefault(event.partition, []).append(event)
    return groups


def newest(events: Sequence[Event], limit: int = LAST_GAMES) -> list[Event]:
    """The `limit` newest events, newest first (ties keep log order, later first)."""
    ordered = sorted(enumerate(events), key=lambda pair: (pair[1].occurred_at_ms, pair[0]))
    return [event for _, event in reversed(ordered[-limit:])]
