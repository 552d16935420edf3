"""The Redis projection against the real server: exactly-once counting and newest-first lists."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import cast

import pytest
import redis.asyncio as aioredis

from squidstream.settings import Settings
from streams.sinks.redis import RedisProjection
from streams.synthetic import synthetic_events

pytestmark = pytest.mark.stack


@pytest.fixture
async def projection(stack: Settings) -> AsyncIterator[RedisProjection]:
    settings = stack.model_copy(update={"redis_prefix": f"t{uuid.uuid4().hex[:10]}"})
    opened = await RedisProjection.open(settings)
    try:
        yield opened
    finally:
        await opened.reset()
        await opened.close()


@pytest.fixture
async def client(stack: Settings) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(stack.redis_url, decode_responses=True)
    yield redis
    await redis.aclose()


@pytest.mark.asyncio
async def test_applying_a_batch_twice_counts_each_event_once(
    projection: RedisProjection, client: aioredis.Redis
) -> None:
    batch = synthetic_events(300, seed=1)
    await projection.apply(batch)
    await projection.apply(batch[100:] + batch[:50])
    prefix = projection._prefix
    wins = cast(
        list[tuple[str, float]], await client.zrange(f"{prefix}:wins", 0, -1, withscores=True)
    )
    assert sum(score for _, score in wins) == 300
    assert sum(map(int, (await client.hgetall(f"{prefix}:sizes")).values())) == 300
    assert (await client.hgetall(f"{prefix}:routes")) == {"kafka": "300"}
    assert await client.hget(f"{prefix}:meta", "events") == "300"


@pytest.mark.asyncio
async def test_last_games_are_the_ten_newest_whatever_the_batch_order(
    projection: RedisProjection, client: aioredis.Redis
) -> None:
    batch = synthetic_events(50, seed=2)
    await projection.apply(batch[25:])
    await projection.apply(batch[:25])
    last = [json.loads(item) for item in await client.lrange(f"{projection._prefix}:last", 0, -1)]
    assert [game["event_id"] for game in last] == [e.event_id for e in reversed(batch[-10:])]


@pytest.mark.asyncio
async def test_reset_deletes_every_key_under_the_prefix(
    projection: RedisProjection, client: aioredis.Redis
) -> None:
    await projection.apply(synthetic_events(20, seed=3))
    await projection.reset()
    assert [key async for key in client.scan_iter(match=f"{projection._prefix}:*")] == []
