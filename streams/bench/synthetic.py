"""Valid synthetic GameEvents for tests and benchmarks (the gateways make the real ones)."""

from __future__ import annotations

import random
import time
import uuid

from squidstream.contract import GAMES, SCHEMA_VERSION, event_id_for
from squidstream.games import draw_winner
from streams.projection.decode import Event


def winner_for(game_id: int, players: int, rng: random.Random) -> int:
    """A winner by the game's rule, drawn as the gateway draws it (squidstream.games)."""
    return draw_winner(game_id, players, rng)


def synthetic_event(rng: random.Random, route: str = "kafka", now_ms: int | None = None) -> Event:
    game_id = rng.randint(min(GAMES), max(GAMES))
    players = rng.randint(4, 100)
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return Event(
        event_id=event_id_for(request_id),
        request_id=request_id,
        game_id=game_id,
        game_name=GAMES[game_id],
        players=players,
        winner=winner_for(game_id, players, rng),
        route=route,
        gateway_id=f"synthetic-{route}",
        occurred_at_ms=now_ms if now_ms is not None else int(time.time() * 1000),
        schema_version=SCHEMA_VERSION,
    )


def synthetic_events(count: int, route: str = "kafka", seed: int | None = None) -> list[Event]:
    """`count` distinct valid events on one route, occurring 1 ms apart."""
    rng = random.Random(seed)
    start = int(time.time() * 1000) - count
    return [synthetic_event(rng, route, start + i) for i in range(count)]
