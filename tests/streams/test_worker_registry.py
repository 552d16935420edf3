"""Workers announce their URL and Faust-assigned partitions; joins and leaves show up."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from squidstream.settings import Settings
from squidstream.topics import workers_topic
from streams.bench.synthetic import synthetic_events
from streams.worker.registry import ANNOUNCE_TTL_S
from tests.streams.streams_harness import produce, wait_for_reports, worker
from tests.streams.workers import ON_A_CREATED_TOPIC, next_worker, worker_test

pytestmark = worker_test(300, ON_A_CREATED_TOPIC)


async def announced(settings: Settings) -> dict[str, list[int]]:
    """URL -> partitions of the workers announced in the last ANNOUNCE_TTL_S."""
    consumer = AIOKafkaConsumer(
        workers_topic(settings),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    latest: dict[str, Any] = {}
    try:
        batch = await consumer.getmany(timeout_ms=1500)
        while batch:
            for records in batch.values():
                for record in records:
                    latest[record.key.decode()] = record.value and json.loads(record.value)
            batch = await consumer.getmany(timeout_ms=300)
    finally:
        await consumer.stop()
    fresh_ms = time.time_ns() // 1_000_000 - ANNOUNCE_TTL_S * 1000
    return {url: v["partitions"] for url, v in latest.items() if v and v["at_ms"] >= fresh_ms}


async def until(settings: Settings, want: int, timeout_s: float = 60) -> dict[str, list[int]]:
    """The announcements once `want` workers share all partitions between them."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await announced(settings)
        owned = sorted(p for partitions in found.values() for p in partitions)
        if len(found) == want and owned == list(range(settings.events_partitions)):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"announcements {found}, wanted {want} workers")
        await asyncio.sleep(1)


@pytest.mark.asyncio
async def test_one_then_two_then_one_worker_each_announce_what_they_own(
    settings: Settings, tmp_path: Path
) -> None:
    events = synthetic_events(400, seed=41)
    second = next_worker(settings)
    with worker(settings, tmp_path, "one"):
        alone = await until(settings, 1)
        with worker(second, tmp_path, "two"):
            # A second worker's start and the rebalance took over 60 s once in a full CI run.
            shared = await until(settings, 2, timeout_s=150)
            await produce(settings, events)
            await wait_for_reports(settings, len(events), workers=[settings, second])
            winner = str(events[0].winner)
            async with httpx.AsyncClient(timeout=5) as client:
                parts = [
                    (await client.get(f"{url}/squid/tables/player_wins/{winner}/")).json()
                    for url in shared
                ]
        back = await until(settings, 1)
    assert list(alone.values()) == [[0, 1, 2, 3]]
    assert sorted(len(p) for p in shared.values()) == [2, 2]
    assert list(back.values()) == [[0, 1, 2, 3]]
    # Each worker answers for the partitions it owns; together they give the player's wins.
    assert sum(part["value"] for part in parts) == sum(e.winner == events[0].winner for e in events)
    assert sorted(p for part in parts for p in part["partitions"]) == [0, 1, 2, 3]
