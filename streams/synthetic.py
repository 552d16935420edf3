"""Valid synthetic GameEvents for tests and benchmarks (the gateways make the real ones)."""

from __future__ import annotations

import random
import time
import uuid

from squidstream.contract import event_id_for
from streams.decode import GAME_NAMES, Event


def winner_for(game_id: int, players: int, rng: random.Random) -> int:
    """A winner by the original five games' rules (even/odd fall back to 1 when none exists)."""
    if game_id == 2:
        return max(1, players // 2)
    if game_id == 3:
        return players
    if game_id in (4, 5):
        choices = range(2 if game_id == 4 else 1, players + 1, 2)
        return rng.choice(choices) if len(choices) else 1
    return rng.randint(1, players)


def synthetic_event(rng: random.Random, route: str = "kafka", now_ms: int | None = None) -> Event:
    game_id = rng.randint(1, 5)
    players = rng.randint(4, 100)
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return Event(
        event_id=event_id_for(request_id),
        request_id=request_id,
        game_id=game_id,
        game_name=GAME_NAMES[game_id],
        players=players,
        winner=winner_for(game_id, players, rng),
        route=route,
        gateway_id=f"synthetic-{route}",
        occurred_at_ms=now_ms if now_ms is not None else int(time.time() * 1000),
        schema_version=1,
    )


def synthetic_events(count: int, route: str = "kafka", seed: int | None = None) -> list[Event]:
    """`count` distinct valid events on one route, occurring 1 ms apart."""
    rng = random.Random(seed)
    start = int(time.time() * 1000) - count
    return [synthetic_event(rng, route, start + i) for i in range(count)]
