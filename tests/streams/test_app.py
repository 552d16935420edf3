"""End to end through a real worker: both routes, duplicates, dead letters, crashes, scaling."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from loadtest.brokers import queue_depth
from squidstream.settings import Settings
from streams.bench.synthetic import synthetic_events
from tests.streams.streams_harness import (
    assert_exactly_once,
    produce,
    publish,
    read_reports,
    samples,
    stop,
    wait_for_reports,
    worker,
)
from tests.streams.workers import ON_A_CREATED_TOPIC, next_worker, worker_test

pytestmark = worker_test(300, pytest.mark.sql, ON_A_CREATED_TOPIC)


@pytest.mark.asyncio
async def test_both_routes_with_duplicates_project_each_event_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    via_kafka = synthetic_events(600, seed=1)
    via_rabbit = synthetic_events(400, route="rabbitmq", seed=2)
    with worker(settings, tmp_path):
        await produce(settings, via_kafka)
        await publish(settings, via_rabbit)
        # A retried request, a bridge re-delivery: the same events again on both routes.
        await produce(settings, via_kafka[:100])
        await publish(settings, via_rabbit[:50])
        reports = await wait_for_reports(settings, 1000)
        await asyncio.sleep(1.5)  # let any late duplicate land before the final read
        reports = await read_reports(settings)
    assert_exactly_once(reports, via_kafka + via_rabbit)
    assert reports.sql["routes"] == {"kafka": 600, "rabbitmq": 400}


@pytest.mark.sql_incidental
@pytest.mark.asyncio
async def test_malformed_records_on_topic_and_queue_are_dead_lettered_and_work_goes_on(
    settings: Settings, tmp_path: Path
) -> None:
    before, after = synthetic_events(100, seed=3), synthetic_events(100, seed=4)
    with worker(settings, tmp_path):
        await produce(settings, before, raw=[b"\xff\xfe not protobuf"])
        await publish(settings, [], raw=[b"\x08\x96\x01 garbage"])
        await produce(settings, after)
        reports = await wait_for_reports(settings, 200)
        letters = await dead_letter_sources(settings, 2)
        queued = await queue_depth(settings, settings.rabbitmq_dead_letter_queue, passive=False)
    assert_exactly_once(reports, before + after)
    assert sorted(letters) == sorted([settings.events_topic, settings.rabbitmq_queue])
    assert queued == 1


@pytest.mark.asyncio
async def test_a_worker_killed_mid_flood_and_restarted_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    flood = synthetic_events(8000, seed=5)
    with worker(settings, tmp_path, "first") as first:
        await produce(settings, flood[:1000])
        await wait_for_reports(settings, 1000, timeout_s=90)
        sending = asyncio.create_task(produce(settings, flood[1000:4000]))
        # Kill once the next part starts landing, and send the rest only after the kill: a
        # fixed delay let a fast worker project the whole flood before it was killed.
        await wait_for_progress(settings, beyond=1000)
        stop(first, signal.SIGKILL)
        await sending
    await produce(settings, flood[4000:])
    interrupted = await read_reports(settings, workers=[])
    with worker(settings, tmp_path, "second"):
        reports = await wait_for_reports(settings, len(flood), timeout_s=180)
    assert not interrupted.settled(len(flood))  # the kill really happened mid-flood
    assert_exactly_once(reports, flood)


@pytest.mark.asyncio
async def test_a_group_committed_past_what_was_projected_loses_nothing_in_any_table(
    settings: Settings, tmp_path: Path
) -> None:
    """Faust's consumer can commit offsets it never delivered (seen in the fault suite: a
    restarted worker began at offset 97 where the stores held 42). The stores catch up from
    the log; the tables must too, from their own positions."""
    events = synthetic_events(600, seed=11)
    await produce(settings, events)
    skipped = await commit_halfway(settings)
    with worker(settings, tmp_path):
        reports = await wait_for_reports(settings, len(events), timeout_s=120)
        found = samples(await metrics_page(settings))
    assert skipped > 200  # the worker really started past a third of the log
    assert_exactly_once(reports, events)
    assert found[("squid_log_gap_records_total", ())] == skipped


async def metrics_page(settings: Settings) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(f"http://127.0.0.1:{settings.faust_web_port}/metrics")).text


async def commit_halfway(settings: Settings) -> int:
    """Commit the worker's group at half of each partition, as if it had projected it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.faust_app_id,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(settings.events_topic, p) for p in range(4)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: end // 2 for tp, end in ends.items()})
    finally:
        await consumer.stop()
    return sum(end // 2 for end in ends.values())


@pytest.mark.asyncio
async def test_two_workers_produce_the_same_reports_as_the_pure_fold(
    settings: Settings, tmp_path: Path
) -> None:
    events = synthetic_events(3000, seed=6)
    second = next_worker(settings)
    with worker(settings, tmp_path, "one"), worker(second, tmp_path, "two"):
        await asyncio.sleep(5)  # both join the group before the flood
        await produce(settings, events)
        reports = await wait_for_reports(settings, len(events), workers=[settings, second])
    assert_exactly_once(reports, events)


async def wait_for_progress(settings: Settings, beyond: int, timeout_s: float = 60) -> None:
    """Poll until the SQL or Mongo projection holds more than `beyond` events."""
    async with asyncio.timeout(timeout_s):
        while True:
            reports = await read_reports(settings)
            if max(reports.sql_rows, reports.mongo_docs) > beyond:
                return
            await asyncio.sleep(0.05)


async def dead_letter_sources(settings: Settings, count: int) -> list[str]:
    """The `source` header of the first `count` records on the dead-letter topic."""
    consumer = AIOKafkaConsumer(
        settings.dead_letter_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        sources: list[str] = []
        async with asyncio.timeout(60):
            async for record in consumer:
                headers = dict(record.headers)
                assert headers["error"]
                sources.append(headers["source"].decode())
                if len(sources) >= count:
                    return sources
        return sources
    finally:
        await consumer.stop()


@pytest.mark.sql_incidental
@pytest.mark.asyncio
async def test_a_store_that_lost_its_data_catches_up_from_the_log_without_new_events(
    settings: Settings, tmp_path: Path
) -> None:
    from streams.sinks.redis import RedisProjection

    events = synthetic_events(300, seed=7)
    with worker(settings, tmp_path):
        await produce(settings, events)
        await wait_for_reports(settings, len(events))
        redis = await RedisProjection.open(settings)
        await redis.reset()  # Redis restarted from an empty snapshot; nothing new arrives
        await redis.close()
        lost = await read_reports(settings)
        reports = await wait_for_reports(settings, len(events), timeout_s=60)
    assert sum(lost.redis["wins"].values()) == 0
    assert_exactly_once(reports, events)
