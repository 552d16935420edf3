"""Helpers for gateway tests on the real servers: read back what a route emitted, drop keys."""

from __future__ import annotations

import redis.asyncio as aioredis

from loadtest.brokers import drain_queue, topic_records
from squidstream.contract import RouteName
from squidstream.proto import game_pb2
from squidstream.settings import Settings


async def drop_prefix(settings: Settings) -> None:
    """Delete every Redis key under the settings' prefix (only this test's own)."""
    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10)
    try:
        keys = [key async for key in client.scan_iter(match=f"{settings.redis_prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def emitted(route: RouteName, settings: Settings) -> list[bytes]:
    """The records that reached the route's broker, as bytes; the queue is drained by reading."""
    if route == "kafka":
        return [record.value for record in await topic_records(settings, settings.events_topic)]
    return [message.body for message in await drain_queue(settings, settings.rabbitmq_queue)]


async def emitted_events(route: RouteName, settings: Settings) -> list[game_pb2.GameEvent]:
    return [game_pb2.GameEvent.FromString(raw) for raw in await emitted(route, settings)]
