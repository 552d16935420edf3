"""A naive per-message consumer like the original system's: one write per store per message."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from streams.projection.decode import Event, decode
from streams.projection.log_reader import end_offsets
from streams.projection.project import open_stores
from streams.sinks.mongo import MongoProjection, document
from streams.sinks.redis import RedisProjection, game_json
from streams.sinks.sql import SqlProjection, insert_statement, new_batch_id


async def naive_drain(settings: Settings, sample: int) -> float:
    """Consume `sample` records one by one, writing each to SQL, Redis and Mongo in turn."""
    projections = (await open_stores(settings)).all
    sql, redis, mongo = projections
    assert isinstance(sql, SqlProjection)
    assert isinstance(redis, RedisProjection)
    assert isinstance(mongo, MongoProjection)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, **kafka_auth(settings), max_poll_records=1
    )
    await consumer.start()
    try:
        await consumer.topics()
        ends = await end_offsets(consumer, settings)
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        started, done = time.perf_counter(), 0
        async for record in consumer:
            decoded = decode(record.value, record.partition, record.offset)
            if isinstance(decoded, Event):
                await _write_one(sql, redis, mongo, decoded, settings.redis_prefix)
            done += 1
            if done >= sample:
                break
        return done / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        for projection in projections:
            await projection.reset()
            await projection.close()


async def _write_one(
    sql: SqlProjection, redis: RedisProjection, mongo: MongoProjection, event: Event, prefix: str
) -> None:
    """What the original did per message: separate round trips, no batching, no dedup record."""
    now_ms = int(time.time() * 1000)
    async with sql._pool.acquire() as conn:  # the naive path bypasses the port
        async with conn.cursor() as cur:
            await cur.execute(insert_statement([event], now_ms, new_batch_id(), conn.escape_string))
        await conn.commit()
    client = redis._client
    await client.zincrby(f"{prefix}:wins", 1, str(event.winner))
    await client.lpush(f"{prefix}:last", game_json(event))
    await client.ltrim(f"{prefix}:last", 0, 9)
    await client.hincrby(f"{prefix}:routes", event.route, 1)
    await mongo._collection.insert_one(document(event, datetime.now(UTC)))
