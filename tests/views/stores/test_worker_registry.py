"""The views' registry follows a real workers topic: announcements, tombstones, late ones."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from squidstream.settings import Settings
from squidstream.topics import WORKERS_TOPIC_CONFIG, TopicSpec, create_topics, workers_topic
from tests.helpers import isolated_settings
from views.stores.worker_registry import RegistryFollower, WorkerRegistry

pytestmark = [pytest.mark.stack, pytest.mark.timeout(120)]


@pytest_asyncio.fixture
async def followed(stack: Settings) -> AsyncIterator[tuple[Settings, WorkerRegistry]]:
    """A follower started before its topic exists, as the views may start before any worker."""
    settings = isolated_settings(stack, "vreg")
    registry = WorkerRegistry()
    stop = asyncio.Event()
    task = asyncio.create_task(RegistryFollower(settings, registry).run(stop))
    yield settings, registry
    stop.set()
    await asyncio.wait_for(task, 10)


async def announce(settings: Settings, *records: tuple[str, list[int] | None]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        now_ms = time.time_ns() // 1_000_000
        for url, partitions in records:
            body = {"url": url, "partitions": partitions, "at_ms": now_ms}
            value = None if partitions is None else json.dumps(body).encode()
            await producer.send_and_wait(workers_topic(settings), value, key=url.encode())
    finally:
        await producer.stop()


async def until_urls(registry: WorkerRegistry, want: dict[str, set[int]]) -> None:
    deadline = time.monotonic() + 30
    while True:
        now_ms = time.time_ns() // 1_000_000
        found = {a.url: set(a.partitions) for a in registry.fresh(now_ms)}
        if found == want:
            return
        assert time.monotonic() < deadline, f"registry holds {found}, wanted {want}"
        await asyncio.sleep(0.1)


@pytest.mark.asyncio
async def test_the_follower_finds_a_late_topic_then_follows_joins_moves_and_tombstones(
    followed: tuple[Settings, WorkerRegistry],
) -> None:
    settings, registry = followed
    spec = TopicSpec(workers_topic(settings), 1, WORKERS_TOPIC_CONFIG)
    await create_topics(settings, [spec])

    await announce(settings, ("http://w1:1", [0, 1, 2, 3]))
    await until_urls(registry, {"http://w1:1": {0, 1, 2, 3}})
    await announce(settings, ("http://w2:2", [2, 3]), ("http://w1:1", [0, 1]))
    await until_urls(registry, {"http://w1:1": {0, 1}, "http://w2:2": {2, 3}})
    await announce(settings, ("http://w2:2", None))
    await until_urls(registry, {"http://w1:1": {0, 1}})
    deadline = time.monotonic() + 10
    while not registry.caught_up:
        assert time.monotonic() < deadline, "an empty poll should mark the past as read"
        await asyncio.sleep(0.1)
