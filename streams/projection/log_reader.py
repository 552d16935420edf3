"""The one reader of the events log by offset range: replay, catch-up and benchmarks use it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from streams.projection.batch import Record


def new_reader(settings: Settings) -> AIOKafkaConsumer:
    """A consumer outside every group: it is assigned partitions and never commits."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        **kafka_auth(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
    )


async def partitions_of(settings: Settings, topic: str) -> list[int]:
    """Partition ids from the broker (a consumer's cached metadata may not know the topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **kafka_auth(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described for p in t["partitions"])


@asynccontextmanager
async def open_reader(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = new_reader(settings)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def end_offsets(consumer: AIOKafkaConsumer, settings: Settings) -> dict[TopicPartition, int]:
    """The end offset of every partition of the events topic, now."""
    topic = settings.events_topic
    tps = [TopicPartition(topic, p) for p in await partitions_of(settings, topic)]
    return dict(await consumer.end_offsets(tps))


async def read_ranges(
    consumer: AIOKafkaConsumer,
    ranges: dict[TopicPartition, tuple[int, int]],
    batch_size: int,
) -> AsyncIterator[list[Record]]:
    """Records of each partition from `start` (or the log start) up to `end`, in batches."""
    wanted = {tp: bounds for tp, bounds in ranges.items() if bounds[1] > bounds[0]}
    if not wanted:
        return
    consumer.assign(list(wanted))
    starts = await consumer.beginning_offsets(list(wanted))
    for tp, (start, _) in wanted.items():
        consumer.seek(tp, max(start, starts[tp]))
    remaining = {tp for tp, (start, end) in wanted.items() if max(start, starts[tp]) < end}
    while remaining:
        fetched = await consumer.getmany(*remaining, timeout_ms=500, max_records=batch_size)
        records: list[Record] = []
        for tp, messages in fetched.items():
            end = wanted[tp][1]
            records.extend(_records(m for m in messages if m.offset < end))
            if (messages and messages[-1].offset >= end - 1) or await consumer.position(tp) >= end:
                remaining.discard(tp)
        if records:
            yield records


def _records(messages: Iterable[object]) -> list[Record]:
    return [
        Record(m.partition, m.offset, m.timestamp, m.value)  # type: ignore[attr-defined]
        for m in messages
    ]
