"""A worker that starts under traffic: its topics exist first, and a fatal error stops it."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from squidstream.settings import Settings
from squidstream.topics import ensure_topics
from streams.bench.synthetic import synthetic_events
from streams.projection.decode import Event, encode
from streams.projection.replay import changelog_topics
from tests.streams.streams_harness import assert_exactly_once, wait_for_reports, worker
from tests.streams.workers import worker_test

pytestmark = worker_test(300, pytest.mark.sql, pytest.mark.sql_incidental)
FLOOD = 2000
CRASH_WORDS = ("Traceback", "CRITICAL", "PartitionsMismatch", "Crashed")


@pytest.mark.asyncio
@pytest.mark.parametrize("topic_exists", [True, False], ids=["topic-exists", "no-topic-yet"])
async def test_events_sent_while_a_fresh_worker_starts_reach_every_store_and_table(
    settings: Settings, tmp_path: Path, topic_exists: bool
) -> None:
    events = synthetic_events(FLOOD, seed=21)
    if topic_exists:
        await ensure_topics(settings, {settings.events_topic: settings.events_partitions})
    # Without the topic, the producer waits for it: the worker creates it while starting.
    sending = asyncio.create_task(trickle(settings, events, seconds=3.0))
    await asyncio.sleep(0.3)
    with worker(settings, tmp_path) as process:
        await sending
        reports = await wait_for_reports(settings, FLOOD, timeout_s=120)
        tables = await wait_for_tables(settings, FLOOD, timeout_s=60)
        alive = process.poll() is None
    assert_exactly_once(reports, events)
    assert sum(tables["route_counts"].values()) == FLOOD
    assert sum(tables["player_wins"].values()) == FLOOD
    assert tables["partitions"] == list(range(settings.events_partitions))
    assert alive
    log = worker_log(tmp_path)
    assert not [word for word in CRASH_WORDS if word in log], log[-3000:]
    partitions = await partition_counts(settings, worker_topic_names(settings))
    assert partitions[settings.dead_letter_topic] == 1
    assert {n for name, n in partitions.items() if name != settings.dead_letter_topic} == {4}


@pytest.mark.asyncio
async def test_a_changelog_with_the_wrong_partition_count_stops_the_worker_loudly(
    settings: Settings, tmp_path: Path
) -> None:
    # Left by an older deployment with other partition counts: every table write would raise
    # PartitionsMismatch. The worker must exit (so a supervisor sees it), not run half-dead.
    changelog = f"{settings.faust_app_id}-route_counts-changelog"
    await create_topic(settings, changelog, 2)
    await ensure_topics(settings, {settings.events_topic: settings.events_partitions})
    await trickle(settings, synthetic_events(50, seed=22), seconds=0.0)
    with worker(settings, tmp_path) as process:
        status = await wait_for_exit(process, timeout_s=90)
    log = worker_log(tmp_path)
    assert status not in (None, 0), log[-3000:]
    assert changelog in log
    assert "2 partitions, needs 4" in log


async def trickle(settings: Settings, events: Sequence[Event], seconds: float) -> None:
    """Produce in slices of 100 spread over `seconds` (key = event id, acks=all)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", request_timeout_ms=90_000
    )
    await producer.start()
    try:
        slices = [events[i : i + 100] for i in range(0, len(events), 100)]
        for chunk in slices:
            futures = [
                await producer.send(settings.events_topic, encode(e), key=e.event_id.encode())
                for e in chunk
            ]
            await asyncio.gather(*futures)
            await asyncio.sleep(seconds / len(slices))
    finally:
        await producer.stop()


async def wait_for_tables(settings: Settings, total: int, timeout_s: float) -> dict[str, Any]:
    """The worker's /squid/tables/ answer once its route counts sum to `total`."""
    url = f"http://127.0.0.1:{settings.faust_web_port}/squid/tables/"
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                body = (await client.get(url)).json()
            except (httpx.HTTPError, ValueError):
                body = {}
            if sum(body.get("route_counts", {}).values()) == total:
                break
            await asyncio.sleep(0.5)
    return body


async def wait_for_exit(process: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    try:
        return await asyncio.to_thread(process.wait, timeout_s)
    except subprocess.TimeoutExpired:
        return None


def worker_log(log_dir: Path) -> str:
    return "\n".join(path.read_text(errors="replace") for path in log_dir.glob("*.log"))


def worker_topic_names(settings: Settings) -> list[str]:
    return [settings.events_topic, settings.dead_letter_topic, *changelog_topics(settings)]


async def partition_counts(settings: Settings, names: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


async def create_topic(settings: Settings, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
