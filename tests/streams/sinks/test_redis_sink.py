"""The Redis projection against the real server: exactly-once counting and newest-first lists."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from streams.bench.synthetic import synthetic_events
from streams.sinks.redis import RedisProjection
from tests.streams.sinks.stores import Opened, batch, laid_out

pytestmark = pytest.mark.stack


async def test_last_games_are_the_ten_newest_whatever_the_batch_order(
    redis: Opened[RedisProjection, aioredis.Redis],
) -> None:
    projection, client = redis.projection, redis.client
    events = synthetic_events(50, seed=2)  # occurring 1 ms apart
    await projection.apply(batch(laid_out(events[25:], partition=1)))  # the newer ones first
    await projection.apply(batch(laid_out(events[:25], partition=0)))
    last = [json.loads(item) for item in await client.lrange(f"{projection._prefix}:last", 0, -1)]
    assert [game["event_id"] for game in last] == [e.event_id for e in reversed(events[-10:])]


async def test_reset_deletes_every_key_under_the_prefix(
    redis: Opened[RedisProjection, aioredis.Redis],
) -> None:
    projection, client = redis.projection, redis.client
    await projection.apply(batch(laid_out(synthetic_events(20, seed=3))))
    reservation = f"{projection._prefix}:req:r1"
    await client.set(reservation, "a gateway's, not a projection")
    await projection.reset()
    left = [key async for key in client.scan_iter(match=f"{projection._prefix}:*")]
    assert left == [reservation]
    await client.delete(reservation)
