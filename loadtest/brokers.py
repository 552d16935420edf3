"""Read back and clean up what a flood or benchmark wrote: a topic, a queue, Redis keys."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownTopicOrPartitionError

from squidstream.kafka_auth import kafka_auth
from squidstream.proto import game_pb2
from squidstream.settings import Settings


async def topic_records(settings: Settings, topic: str, timeout_s: float = 60.0) -> list[Any]:
    """Every record of `topic` from offset 0 to the end offsets at call time."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        **kafka_auth(settings),
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, n) for n in await _partitions(settings, topic)]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        async with asyncio.timeout(timeout_s):
            while await _behind(consumer, ends):
                batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for batch in batches.values():
                    records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def _partitions(settings: Settings, topic: str) -> list[int]:
    """Partition numbers from a fresh metadata request (a consumer's cache can lag)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **kafka_auth(settings))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(partition["partition"] for partition in described["partitions"])


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return True
    return False


async def topic_events(settings: Settings, topic: str) -> list[game_pb2.GameEvent]:
    """The decoded GameEvents of a topic, in partition order."""
    return [
        game_pb2.GameEvent.FromString(record.value)
        for record in await topic_records(settings, topic)
    ]


@contextlib.asynccontextmanager
async def rabbitmq_channel(settings: Settings) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A channel on a connection of its own, both closed on the way out."""
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        yield await connection.channel()


async def queue_depth(settings: Settings, queue: str, *, passive: bool = True) -> int:
    """Messages waiting in a durable queue (a passive declare changes nothing; otherwise the
    queue is declared if it is missing)."""
    async with rabbitmq_channel(settings) as channel:
        declared = await channel.declare_queue(queue, durable=True, passive=passive)
        return int(declared.declaration_result.message_count or 0)


async def drain_queue(settings: Settings, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take every message now waiting in `queue` (acknowledged, so the queue ends empty)."""
    taken: list[aio_pika.abc.AbstractIncomingMessage] = []
    async with rabbitmq_channel(settings) as channel:
        declared = await channel.declare_queue(queue, durable=True)
        while (message := await declared.get(no_ack=True, fail=False)) is not None:
            taken.append(message)
    return taken


async def delete_topic(settings: Settings, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **kafka_auth(settings))
    await admin.start()
    try:
        await admin.delete_topics([topic])
    except UnknownTopicOrPartitionError:
        pass  # already gone: deleting is idempotent for our callers
    finally:
        await admin.close()


async def delete_queue(settings: Settings, queue: str) -> None:
    async with rabbitmq_channel(settings) as channel:
        await channel.queue_delete(queue)


async def delete_keys(settings: Settings, prefix: str) -> int:
    """Delete every Redis key under `{prefix}:` (SCAN, never KEYS); returns how many."""
    client = aioredis.Redis(
        host=settings.redis_host, port=settings.redis_port, db=settings.redis_db
    )
    deleted = 0
    try:
        keys = [key async for key in client.scan_iter(f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            deleted += int(await client.delete(*keys[start : start + 1000]))
    finally:
        await client.aclose()
    return deleted
