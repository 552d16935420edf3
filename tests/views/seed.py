"""Test-only: known games projected into Redis, SQL and Mongo by the real sinks.

The games are encoded as GameEvents, decoded into one batch as a worker would fetch them
(game i at partition i % 4, offset i // 4) and applied by `streams.sinks`, so the read-side
tests read whatever layout the writers produce today, never a copy of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import SimpleNamespace
from unittest import mock

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

import streams.sinks.mongo
import streams.sinks.redis
import streams.sinks.sql
from squidstream.settings import Settings
from streams.bench.synthetic import played
from streams.projection.batch import Batch, Record, make_batch
from streams.projection.decode import Event, encode
from streams.projection.project import close_stores, open_stores
from streams.sinks import Projection
from streams.sinks.mongo import MongoProjection
from streams.sinks.redis import RedisProjection
from streams.sinks.sql import SqlProjection
from tests.helpers import sql_connect

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
PARTITIONS = 4


@dataclass(frozen=True, slots=True)
class SeedGame(Event):
    """A game the read-side tests project: an Event of schema version 1 unless told."""

    schema_version: int = 1


def make_games(count: int, seed: int = 7, max_players: int = 30) -> list[SeedGame]:
    """Valid games in occurrence order, one millisecond apart, with a reproducible mix."""
    rng = random.Random(seed)
    games = []
    for i in range(count):
        game_id, players = rng.randint(1, 5), rng.randint(1, max_players)
        request_id = f"rq-{seed}-{i:06d}"
        route = rng.choice(["kafka", "rabbitmq"])
        game = played(
            request_id,
            game_id,
            players,
            rng,
            route=route,
            gateway_id="seed",
            occurred_at_ms=START_MS + i,
        )
        games.append(SeedGame(**dataclasses.asdict(game)))
    return games


def fetched(games: Sequence[SeedGame]) -> Batch:
    """The games as one fetched batch of the events topic; each is its id's first copy."""
    records = [
        Record(i % PARTITIONS, i // PARTITIONS, g.occurred_at_ms, encode(g))
        for i, g in enumerate(games)
    ]
    batch = make_batch(records)
    assert not batch.letters, f"seed games the worker would dead-letter: {batch.letters[:3]}"
    batch.canonical = list(batch.events)  # distinct event ids: what the ledger would say
    return batch


@contextlib.contextmanager
def projected_at(ms: int) -> Iterator[None]:
    """The sinks stamp what they write with the wall clock; seeded stores need a known stamp."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(ms / 1000, tz)

    clock = SimpleNamespace(time=lambda: ms / 1000)
    with (
        mock.patch.object(streams.sinks.sql, "time", clock),
        mock.patch.object(streams.sinks.redis, "time", clock),
        mock.patch.object(streams.sinks.mongo, "datetime", Frozen),
    ):
        yield


async def _project(
    opener: Callable[[Settings], Awaitable[Projection]],
    settings: Settings,
    games: Sequence[SeedGame],
    projected_at_ms: int,
) -> None:
    """Open one store (SQL: create and migrate its tables) and apply the games to it."""
    store = await opener(settings)
    try:
        if games:
            with projected_at(projected_at_ms):
                await store.apply(fetched(games))
    finally:
        await store.close()


async def seed_redis(settings: Settings, games: Sequence[SeedGame], projected_at_ms: int) -> None:
    await _project(RedisProjection.open, settings, games, projected_at_ms)


async def seed_sql(settings: Settings, games: Sequence[SeedGame], projected_at_ms: int) -> None:
    await _project(SqlProjection.open, settings, games, projected_at_ms)


async def seed_mongo(settings: Settings, games: Sequence[SeedGame], projected_at_ms: int) -> None:
    await _project(MongoProjection.open, settings, games, projected_at_ms)


async def seed_all(settings: Settings, games: Sequence[SeedGame], projected_at_ms: int) -> None:
    """Every store, as the worker projects: the ledger decides the canonical copies first."""
    stores = await open_stores(settings)
    try:
        if games:
            batch = fetched(games)
            batch.canonical = []
            with projected_at(projected_at_ms):
                await stores.ledger.apply(batch)
                for follower in stores.followers:
                    await follower.apply(batch)
    finally:
        await close_stores(stores.all)


async def drop_redis(settings: Settings) -> None:
    client = aioredis.Redis(
        host=settings.redis_host, port=settings.redis_port, db=settings.redis_db
    )
    try:
        keys = [key async for key in client.scan_iter(f"{settings.redis_prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def drop_sql(settings: Settings) -> None:
    conn = await sql_connect(settings, database=False)
    try:
        async with conn.cursor() as cur:
            # Asked first: DROP DATABASE IF EXISTS warns about a database that is missing.
            await cur.execute(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s",
                (settings.sql_database,),
            )
            (exists,) = await cur.fetchone()
            if exists:
                await cur.execute(f"DROP DATABASE `{settings.sql_database}`")
    finally:
        await conn.ensure_closed()


async def drop_mongo(settings: Settings) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongo_url, serverSelectionTimeoutMS=3000
    )
    try:
        await client.drop_database(settings.mongo_database)
    finally:
        await client.close()


async def drop_all(settings: Settings) -> None:
    """Drop what tests wrote; a server that is not running holds nothing to drop."""
    for drop in (drop_redis, drop_sql, drop_mongo):
        with contextlib.suppress(ConnectionError, OSError, PyMongoError):
            await drop(settings)
