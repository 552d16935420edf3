"""Test-only: each real store opened on names of a test's own, with a way to look inside.

`Opened.count` is the store's own count of applied events, checked against its aggregates
on every call, so a test that counts also checks that rows and totals agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from squidstream.settings import Settings
from streams.projection.batch import Batch, Span
from streams.projection.decode import Event
from streams.sinks import Projection
from streams.sinks.mongo import MongoProjection
from streams.sinks.redis import RedisProjection
from streams.sinks.sql import SqlProjection
from tests.helpers import sql_connect
from views.stores.mongo_reports import MongoReports

P = TypeVar("P", bound=Projection)
C = TypeVar("C")


@dataclass
class Opened(Generic[P, C]):
    """A projection, a client of the test's own on the same store, and how to count."""

    projection: P
    client: C  # SQL: a connection; Redis: a client; Mongo: the audit collection
    count: Callable[[], Awaitable[int]]
    drop: Callable[[], Awaitable[None]]

    async def close(self) -> None:
        """Drop everything the test wrote, then close the projection."""
        try:
            await self.drop()
        finally:
            await self.projection.close()


def laid_out(events: Sequence[Event], partition: int = 0, first: int = 0) -> list[Event]:
    """The events at offsets first.. of one partition, as the log would hold them."""
    return [
        dataclasses.replace(e, partition=partition, offset=first + i) for i, e in enumerate(events)
    ]


def batch(events: Sequence[Event], span: tuple[int, int] | None = None) -> Batch:
    """A batch over one partition whose events are all canonical copies."""
    partition = events[0].partition if events else 0
    first, nxt = span or (events[0].offset, events[-1].offset + 1)
    return Batch(list(events), [], {partition: Span(first, nxt)}, nxt - first, list(events))


async def open_sql(settings: Settings) -> Opened[SqlProjection, Any]:
    store = await SqlProjection.open(settings)
    conn = await sql_connect(settings)

    async def count() -> int:
        async with conn.cursor() as cur:
            await cur.execute("SELECT COUNT(*) FROM game_results")
            (rows,) = await cur.fetchone()
            await cur.execute("SELECT COALESCE(SUM(wins), 0) FROM player_wins")
            (wins,) = await cur.fetchone()
        assert int(rows) == int(wins), "rows and aggregates disagree"
        return int(rows)

    async def drop() -> None:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE `{settings.sql_database}`")
        conn.close()

    return Opened(store, conn, count, drop)


async def open_redis(settings: Settings) -> Opened[RedisProjection, aioredis.Redis]:
    store = await RedisProjection.open(settings)
    client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)

    async def count() -> int:
        key = f"{settings.redis_prefix}:wins"
        wins = cast(list[tuple[str, float]], await client.zrange(key, 0, -1, withscores=True))
        meta = await client.hget(f"{settings.redis_prefix}:meta", "events")
        assert int(sum(score for _, score in wins)) == int(meta or 0)
        return int(meta or 0)

    async def drop() -> None:
        await store.reset()
        await client.aclose()

    return Opened(store, client, count, drop)


async def open_mongo(settings: Settings) -> Opened[MongoProjection, Any]:
    store = await MongoProjection.open(settings)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    collection = client[settings.mongo_database][settings.mongo_collection]
    # The totals as the read side sums them, whatever the tracking documents look like.
    reports = MongoReports(
        client,
        settings.mongo_database,
        settings.mongo_collection,
        events_topic=settings.events_topic,
    )

    async def count() -> int:
        docs = await collection.count_documents({})
        assert await reports.events() == docs, "audit documents and their totals disagree"
        return docs

    async def drop() -> None:
        await client.drop_database(settings.mongo_database)
        await client.close()

    return Opened(store, collection, count, drop)
