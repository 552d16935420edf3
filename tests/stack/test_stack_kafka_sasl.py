"""A private Kafka with a SASL_PLAINTEXT (PLAIN) listener: clients built with kafka_auth and
Faust with broker_credentials get through, topics are created with the credentials, and a
client without them is refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from squidstream.topics import ensure_topics
from stack import manager
from streams.worker.broker_auth import broker_credentials
from tests.stack.private import private_stack

# A space, # and = in the password: it must survive the properties file and the JAAS quoting.
PASSWORD = "sasl pass#1=ok"
REFUSED_WITHIN_S = 20.0
CONNECT_TIMEOUT_MS = 3000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sasl_kafka() -> Iterator[Settings]:
    overrides = {
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_username": "squid-admin",
        "kafka_password": PASSWORD,
    }
    with private_stack(["kafka"], overrides=overrides) as settings:
        yield settings


def _topic() -> str:
    return f"sasl-test-{uuid.uuid4().hex[:8]}"


def test_the_stack_checks_its_sasl_broker_healthy_with_the_credentials(
    sasl_kafka: Settings,
) -> None:
    [row] = manager.status(sasl_kafka, ["kafka"])
    assert row.healthy, row.note
    config = (sasl_kafka.data_dir / "kafka" / "server.properties").read_text(encoding="utf-8")
    assert "SASL_PLAINTEXT://127.0.0.1:" in config


async def test_topics_are_created_with_the_credentials(sasl_kafka: Settings) -> None:
    topic = _topic()
    await ensure_topics(sasl_kafka, {topic: 2}, timeout_s=30)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=sasl_kafka.kafka_bootstrap, **kafka_auth(sasl_kafka)
    )
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert len(described["partitions"]) == 2


async def test_a_record_round_trips_through_clients_built_with_kafka_auth(
    sasl_kafka: Settings,
) -> None:
    topic = _topic()
    await ensure_topics(sasl_kafka, {topic: 1}, timeout_s=30)
    auth = kafka_auth(sasl_kafka)
    producer = AIOKafkaProducer(bootstrap_servers=sasl_kafka.kafka_bootstrap, acks="all", **auth)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"over sasl", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=sasl_kafka.kafka_bootstrap, auto_offset_reset="earliest", **auth
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"k", b"over sasl")


@pytest.mark.parametrize("password", [None, "wrong password"], ids=["none", "wrong"])
async def test_a_client_without_the_right_credentials_is_refused(
    sasl_kafka: Settings, password: str | None
) -> None:
    auth: dict[str, Any] = {}  # none at all: PLAINTEXT
    if password is not None:
        auth = {**kafka_auth(sasl_kafka), "sasl_plain_password": password}
    producer = AIOKafkaProducer(
        bootstrap_servers=sasl_kafka.kafka_bootstrap,
        request_timeout_ms=CONNECT_TIMEOUT_MS,
        **auth,
    )
    try:
        with pytest.raises(KafkaError):
            await asyncio.wait_for(producer.start(), REFUSED_WITHIN_S)
    finally:
        await producer.stop()


async def test_fausts_producer_gets_through_with_the_broker_credentials(
    sasl_kafka: Settings,
) -> None:
    topic = _topic()
    await ensure_topics(sasl_kafka, {topic: 1}, timeout_s=30)
    app = faust.App(
        f"sasl-test-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{sasl_kafka.kafka_bootstrap}",
        broker_credentials=broker_credentials(sasl_kafka),
        web_enabled=False,
    )
    producer = app.producer
    await asyncio.wait_for(producer.start(), 30)
    try:
        sent = await asyncio.wait_for(
            producer.send_and_wait(
                topic, b"k", b"from faust", partition=None, timestamp=None, headers=None
            ),
            30,
        )
    finally:
        await producer.stop()
    assert sent.topic_partition.topic == topic
    assert sent.offset == 0
