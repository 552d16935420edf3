"""One contract suite run against each real store: tracking records make every apply exact.

Each store keeps the next offset it applied per partition in the same atomic write as the
batch (streams.sinks). Whatever order and overlap batches arrive in, a store counts each
canonical event once, refuses a batch that starts past its record, and reports positions.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from squidstream.settings import Settings
from streams.batch import Batch, Span
from streams.decode import Event
from streams.errors import PoisonError, StoreBehind
from streams.sinks import Projection
from streams.sinks.mongo import TRACKING_COLLECTION, MongoProjection
from streams.sinks.redis import RedisProjection
from streams.sinks.sql import SqlProjection
from streams.synthetic import synthetic_events
from tests.helpers import sql_connect

pytestmark = [pytest.mark.stack, pytest.mark.sql]
Count = Callable[[], Awaitable[int]]


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


async def sql_store(settings: Settings) -> tuple[Projection, Count, Callable[[], Awaitable[None]]]:
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

    return store, count, drop


async def redis_store(
    settings: Settings,
) -> tuple[Projection, Count, Callable[[], Awaitable[None]]]:
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

    return store, count, drop


async def mongo_store(
    settings: Settings,
) -> tuple[Projection, Count, Callable[[], Awaitable[None]]]:
    store = await MongoProjection.open(settings)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    db = client[settings.mongo_database]

    async def count() -> int:
        docs = await db[settings.mongo_collection].count_documents({})
        totals = [doc.get("events", 0) async for doc in db[TRACKING_COLLECTION].find({})]
        assert sum(totals) == docs, "audit documents and their totals disagree"
        return docs

    async def drop() -> None:
        await client.drop_database(settings.mongo_database)
        await client.close()

    return store, count, drop


OPENERS = {"sql": sql_store, "redis": redis_store, "mongo": mongo_store}


@pytest.fixture(params=sorted(OPENERS))
async def store(
    stack: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Projection, Count]]:
    tag = uuid.uuid4().hex[:10]
    settings = stack.model_copy(
        update={
            "events_topic": f"t{tag}",
            "sql_database": f"squid_t_{tag}",
            "mongo_database": f"squid_t_{tag}",
            "redis_prefix": f"t{tag}",
        }
    )
    opened, count, drop = await OPENERS[request.param](settings)
    try:
        yield opened, count
    finally:
        await drop()
        await opened.close()


@pytest.mark.asyncio
async def test_a_batch_applied_twice_counts_once(store: tuple[Projection, Count]) -> None:
    projection, count = store
    events = laid_out(synthetic_events(200, seed=1))
    await projection.apply(batch(events))
    await projection.apply(batch(events))
    assert await count() == 200
    assert await projection.positions() == {0: 200}


@pytest.mark.asyncio
async def test_an_overlapping_batch_applies_only_the_offsets_not_applied(
    store: tuple[Projection, Count],
) -> None:
    projection, count = store
    events = laid_out(synthetic_events(300, seed=2))
    await projection.apply(batch(events[:150]))
    await projection.apply(batch(events[100:]))  # re-delivered from an older commit
    assert await count() == 300
    assert await projection.positions() == {0: 300}


@pytest.mark.asyncio
async def test_a_batch_past_the_tracking_record_is_refused_as_behind(
    store: tuple[Projection, Count],
) -> None:
    projection, count = store
    events = laid_out(synthetic_events(30, seed=3))
    await projection.apply(batch(events[:10]))
    with pytest.raises(StoreBehind) as behind:
        await projection.apply(batch(events[20:]))
    assert (behind.value.partition, behind.value.applied_next, behind.value.first) == (0, 10, 20)
    assert await count() == 10


@pytest.mark.asyncio
async def test_offsets_without_events_still_advance_the_record(
    store: tuple[Projection, Count],
) -> None:
    projection, _ = store
    await projection.apply(Batch([], [], {2: Span(0, 7)}, 7))
    assert await projection.positions() == {2: 7}


@pytest.mark.asyncio
async def test_reset_empties_the_store_and_its_tracking_records(
    store: tuple[Projection, Count],
) -> None:
    projection, count = store
    await projection.apply(batch(laid_out(synthetic_events(20, seed=4))))
    await projection.reset()
    assert await count() == 0
    assert await projection.positions() == {}


@pytest.mark.asyncio
async def test_the_ledger_marks_only_the_first_copy_of_an_event_id_canonical(
    stack: Settings,
) -> None:
    tag = uuid.uuid4().hex[:10]
    settings = stack.model_copy(
        update={"events_topic": f"t{tag}", "sql_database": f"squid_t_{tag}"}
    )
    ledger, count, drop = await sql_store(settings)
    try:
        events = laid_out(synthetic_events(6, seed=5))
        first = batch(events)
        await ledger.apply(first)
        copies = laid_out(events[:3], first=6)  # a bridge re-delivery, at new offsets
        again = batch(copies)
        again.canonical = []
        await ledger.apply(again)
        redelivered = batch(events)
        redelivered.canonical = []
        await ledger.apply(redelivered)
        assert first.canonical == events
        assert again.canonical == []
        assert redelivered.canonical == events  # the same offsets stay canonical
        assert await count() == 6
    finally:
        await drop()
        await ledger.close()


@pytest.mark.asyncio
async def test_sql_refuses_a_value_too_long_for_its_column_as_poison(stack: Settings) -> None:
    tag = uuid.uuid4().hex[:10]
    settings = stack.model_copy(
        update={"events_topic": f"t{tag}", "sql_database": f"squid_t_{tag}"}
    )
    ledger, count, drop = await sql_store(settings)
    try:
        (event,) = laid_out(synthetic_events(1, seed=6))
        with pytest.raises(PoisonError, match="game_name"):
            await ledger.apply(batch([dataclasses.replace(event, game_name="x" * 40)]))
        assert await count() == 0
        assert await ledger.positions() == {}
    finally:
        await drop()
        await ledger.close()
