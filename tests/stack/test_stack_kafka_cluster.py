"""A three-broker KRaft cluster keeps every acknowledged record when one broker is SIGKILLed."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from squidstream.settings import Settings
from squidstream.topics import TopicError, TopicSpec, create_topics
from stack import faults, manager
from tests.stack.private import private_stack

PARTITIONS = 3
IN_FLIGHT = 200
BEFORE_KILL = 3_000
AFTER_KILL = 3_000
FLOOD_TIMEOUT_S = 120.0
ISR_TIMEOUT_S = 60.0

LOG = logging.getLogger(__name__)

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Settings]:
    with private_stack(["kafka"], kafka_brokers=3) as settings:
        # Each node is healthy once it is unfenced; the metadata any one of them serves may
        # still lag behind the others for a moment.
        asyncio.run(_wait_for_brokers(settings, 3))
        yield settings.model_copy(
            update={"events_replication_factor": 3, "events_min_insync_replicas": 2}
        )


async def _wait_for_brokers(settings: Settings, count: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + ISR_TIMEOUT_S
        while len((await admin.describe_cluster())["brokers"]) < count:
            assert time.monotonic() < deadline, f"fewer than {count} brokers in the metadata"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _describe(settings: Settings, topic: str) -> list[dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        partitions: list[dict[str, Any]] = described["partitions"]
        return partitions
    finally:
        await admin.close()


async def _topic_config(settings: Settings, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic)
        [answer] = await admin.describe_configs([resource])
    finally:
        await admin.close()
    return {entry[0]: entry[1] for entry in answer.resources[0][4]}


class Flood:
    """Produces distinct values with acks=all and remembers which ones were acknowledged."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer, self.topic = producer, topic
        self.acked: list[bytes] = []
        self.failed = 0
        self._next = 0

    async def until(self, acked: int, deadline: float) -> None:
        """Keep IN_FLIGHT sends going until `acked` values in all are acknowledged."""
        pending: set[asyncio.Future[object]] = set()
        while len(self.acked) < acked and time.monotonic() < deadline:
            while len(pending) < IN_FLIGHT:
                pending.add(asyncio.ensure_future(self._send_one()))
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.gather(*pending)

    async def _send_one(self) -> None:
        value = f"{self._next:08d}".encode()
        self._next += 1
        try:
            await self.producer.send_and_wait(self.topic, value, key=value)
        except Exception:  # not acknowledged: allowed to be lost, so only counted
            self.failed += 1
            return
        self.acked.append(value)


async def _read_all(settings: Settings, topic: str) -> list[bytes]:
    """Every value of the topic from offset 0 (no consumer group: nothing to commit)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        values: list[bytes] = []
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=1000)
            values += [record.value for records in batches.values() for record in records]
        return values
    finally:
        await consumer.stop()


async def test_topics_get_the_replication_factor_and_min_isr_of_the_settings(
    cluster: Settings,
) -> None:
    topic = f"rf3-{uuid.uuid4().hex[:8]}"
    await create_topics(cluster, [TopicSpec(topic, PARTITIONS)])
    partitions = await _describe(cluster, topic)
    assert [len(p["replicas"]) for p in partitions] == [3] * PARTITIONS
    assert (await _topic_config(cluster, topic))["min.insync.replicas"] == "2"


async def test_a_replication_factor_above_the_broker_count_is_refused(cluster: Settings) -> None:
    topic = f"rf4-{uuid.uuid4().hex[:8]}"
    too_many = cluster.model_copy(update={"events_replication_factor": 4})
    with pytest.raises(TopicError, match=r"replication factor 4 .* above the 3 broker"):
        await create_topics(too_many, [TopicSpec(topic, 1)])
    impossible_isr = cluster.model_copy(update={"events_min_insync_replicas": 4})
    with pytest.raises(TopicError, match=r"min\.insync\.replicas 4 .* above the replication"):
        await create_topics(impossible_isr, [TopicSpec(topic, 1)])


async def test_sigkill_of_a_broker_mid_flood_loses_no_acknowledged_record(
    cluster: Settings,
) -> None:
    topic = f"flood-{uuid.uuid4().hex[:8]}"
    await create_topics(cluster, [TopicSpec(topic, PARTITIONS)])
    # The leader of partition 0: its partitions must move, not only lose a follower.
    leader = int((await _describe(cluster, topic))[0]["leader"])
    victim = f"kafka-{leader}"
    producer = AIOKafkaProducer(
        bootstrap_servers=cluster.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=10_000,
    )
    await producer.start()
    flood = Flood(producer, topic)
    deadline = time.monotonic() + FLOOD_TIMEOUT_S
    try:
        await flood.until(BEFORE_KILL, deadline)
        killing = asyncio.create_task(asyncio.to_thread(faults.kill, cluster, victim))
        await flood.until(BEFORE_KILL + 500, deadline)  # the kill lands mid-flood
        await killing
        acked_at_kill = len(flood.acked)
        killed_at = time.monotonic()
        await flood.until(acked_at_kill + AFTER_KILL, deadline)
        after_s = time.monotonic() - killed_at
    finally:
        await producer.stop()
    LOG.info(
        "killed %s (leader of partition 0) after %d acks; %d more acked in %.1fs; %d failed",
        victim, acked_at_kill, len(flood.acked) - acked_at_kill, after_s, flood.failed,
    )  # fmt: skip
    assert len(flood.acked) >= acked_at_kill + AFTER_KILL, "the cluster stopped accepting"

    values = await _read_all(cluster, topic)
    assert set(flood.acked) - set(values) == set()  # nothing acknowledged was lost
    assert len(values) == len(set(values))  # and the idempotent producer wrote nothing twice

    await asyncio.to_thread(faults.restart, cluster, victim, lambda _: None)
    [row] = await asyncio.to_thread(manager.status, cluster, [victim])
    assert row.healthy
    await _wait_for_full_isr(cluster, topic)


async def _wait_for_full_isr(settings: Settings, topic: str) -> None:
    """Until the restarted broker has caught up: every partition has all 3 replicas in sync."""
    deadline = time.monotonic() + ISR_TIMEOUT_S
    while True:
        isr = [len(partition["isr"]) for partition in await _describe(settings, topic)]
        if isr == [3] * PARTITIONS:
            return
        assert time.monotonic() < deadline, f"in-sync replicas per partition: {isr}"
        await asyncio.sleep(0.5)
