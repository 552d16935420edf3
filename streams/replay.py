"""`squidstream replay`: empty every projection and rebuild it from offset 0 of game-events."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from tqdm import tqdm

from squidstream.settings import Settings
from squidstream.topics import ensure_topics
from streams.decode import Event, decode
from streams.errors import ReplayError
from streams.fold import unique
from streams.project import Projector, open_projections

log = logging.getLogger(__name__)


@dataclass
class DrainResult:
    """What one pass over the topic saw."""

    records: int = 0
    projected: int = 0
    dead_letters: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


async def live_workers(settings: Settings) -> list[str]:
    """Worker URLs (SQUID_FAUST_WORKER_URLS) whose /squid/tables/ page answers right now.

    aiokafka 0.14's DescribeGroups cannot decode Kafka 4's answer, so group membership is
    checked through the workers' own web pages instead.
    """
    alive = []
    async with httpx.AsyncClient(timeout=2) as client:
        for url in settings.worker_urls:
            try:
                response = await client.get(f"{url}/squid/tables/")
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                alive.append(url)
    return alive


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """Partition ids from the broker (a consumer's cached metadata may not know the topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described for p in t["partitions"])


async def end_offsets(consumer: AIOKafkaConsumer, settings: Settings) -> dict[TopicPartition, int]:
    topic = settings.events_topic
    partitions = await partitions_of(settings.kafka_bootstrap, topic)
    tps = [TopicPartition(topic, p) for p in partitions]
    return dict(await consumer.end_offsets(tps))


@asynccontextmanager
async def from_the_start(
    settings: Settings,
) -> AsyncIterator[tuple[AIOKafkaConsumer, dict[TopicPartition, int]]]:
    """A consumer assigned every partition of the events topic at offset 0, with the end
    offsets taken now: reading up to them reads the log as it stood when we started."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    try:
        await consumer.topics()
        ends = await end_offsets(consumer, settings)
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        yield consumer, ends
    finally:
        await consumer.stop()


async def drain(
    settings: Settings,
    projector: Projector | None,
    on_progress: Callable[[int], object] = lambda n: None,
) -> DrainResult:
    """Read the topic from offset 0 to the end offsets taken now; project when given a projector."""
    async with from_the_start(settings) as (consumer, ends):
        return await _drain_assigned(consumer, ends, projector, on_progress, settings.batch_size)


async def _drain_assigned(
    consumer: AIOKafkaConsumer,
    ends: dict[TopicPartition, int],
    projector: Projector | None,
    on_progress: Callable[[int], object],
    batch_size: int,
) -> DrainResult:
    result = DrainResult()
    remaining = {tp for tp, end in ends.items() if end > 0}
    started = time.perf_counter()
    while remaining:
        fetched = await consumer.getmany(*remaining, timeout_ms=500, max_records=batch_size)
        batch: list[Event] = []
        for tp, records in fetched.items():
            for record in records:
                if record.offset >= ends[tp]:
                    break
                result.records += 1
                decoded = decode(record.value, record.partition, record.offset)
                if isinstance(decoded, Event):
                    batch.append(decoded)
                else:
                    result.dead_letters += 1
            if await consumer.position(tp) >= ends[tp] or (
                records and records[-1].offset >= ends[tp]
            ):
                remaining.discard(tp)
        if projector is not None and batch:
            await projector.apply(unique(batch))
        result.projected += len(batch)
        on_progress(sum(len(r) for r in fetched.values()))
    result.seconds = time.perf_counter() - started
    return result


async def replay(settings: Settings, progress: bool = True) -> DrainResult:
    """Stop-the-world rebuild; refuses while workers of the group are running."""
    await ensure_topics(settings, {settings.events_topic: settings.events_partitions})
    alive = await live_workers(settings)
    if alive:
        raise ReplayError(f"workers are running at {', '.join(alive)}; stop them first")
    projector = Projector(await open_projections(settings))
    try:
        await projector.reset()
        total = await _total(settings)
        with tqdm(total=total, unit="ev", disable=not progress, desc="replay") as bar:
            return await drain(settings, projector, bar.update)
    finally:
        await projector.close()


async def _total(settings: Settings) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        await consumer.topics()
        return sum((await end_offsets(consumer, settings)).values())
    finally:
        await consumer.stop()
