"""Valid synthetic GameEvents for tests and benchmarks (the gateways make the real ones)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterable, Sequence

from squidstream.contract import GAMES, SCHEMA_VERSION, event_id_for
from squidstream.games import draw_winner
from squidstream.settings import Settings
from squidstream.topics import ensure_topics
from streams.projection.deadletter import new_producer
from streams.projection.decode import Event, encode


def winner_for(game_id: int, players: int, rng: random.Random) -> int:
    """A winner by the game's rule, drawn as the gateway draws it (squidstream.games)."""
    return draw_winner(game_id, players, rng)


def played(
    request_id: str,
    game_id: int,
    players: int,
    rng: random.Random,
    *,
    route: str,
    gateway_id: str,
    occurred_at_ms: int,
) -> Event:
    """The event a gateway emits for this request: its event id, the game's name and a winner
    drawn by the game's rule."""
    return Event(
        event_id=event_id_for(request_id),
        request_id=request_id,
        game_id=game_id,
        game_name=GAMES[game_id],
        players=players,
        winner=winner_for(game_id, players, rng),
        route=route,
        gateway_id=gateway_id,
        occurred_at_ms=occurred_at_ms,
        schema_version=SCHEMA_VERSION,
    )


def synthetic_event(rng: random.Random, route: str = "kafka", now_ms: int | None = None) -> Event:
    game_id = rng.randint(min(GAMES), max(GAMES))
    players = rng.randint(4, 100)
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    occurred_at_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    return played(
        request_id,
        game_id,
        players,
        rng,
        route=route,
        gateway_id=f"synthetic-{route}",
        occurred_at_ms=occurred_at_ms,
    )


def synthetic_events(
    count: int, route: str = "kafka", seed: int | None = None, start_ms: int | None = None
) -> list[Event]:
    """`count` distinct valid events on one route, occurring 1 ms apart from `start_ms`
    (by default ending now)."""
    rng = random.Random(seed)
    start = int(time.time() * 1000) - count if start_ms is None else start_ms
    return [synthetic_event(rng, route, start + i) for i in range(count)]


async def produce(settings: Settings, batches: Iterable[Sequence[Event]]) -> int:
    """Put the events on the events topic (key = event id), durably, one batch in flight at a
    time; returns how many. The topic is created first if it is missing."""
    await ensure_topics(settings, {settings.events_topic: settings.events_partitions})
    producer = new_producer(settings)
    await producer.start()
    sent = 0
    try:
        for events in batches:
            futures = [
                await producer.send(settings.events_topic, encode(e), key=e.event_id.encode())
                for e in events
            ]
            await asyncio.gather(*futures)
            sent += len(futures)
    finally:
        await producer.stop()
    return sent
