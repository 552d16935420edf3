"""Topic administration against the real Kafka broker (auto-creation is off there)."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from squidstream.settings import Settings
from squidstream.topics import ensure_topics
from tests.helpers import unique_name

pytestmark = pytest.mark.stack


async def _describe(settings: Settings, name: str) -> tuple[int, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        [topic] = await admin.describe_topics([name])
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    # DescribeConfigs v0: resources = [(error, message, type, name, [(key, value, ...)])].
    configs = {entry[0]: entry[1] for entry in responses[0].resources[0][4]}
    return len(topic["partitions"]), configs


@pytest.mark.asyncio
async def test_ensure_topics_creates_topics_with_partitions_and_infinite_retention(
    stack: Settings,
) -> None:
    name = unique_name("topic")
    await ensure_topics(stack, {name: 3})
    partitions, configs = await _describe(stack, name)
    assert partitions == 3
    assert configs["retention.ms"] == "-1"


@pytest.mark.asyncio
async def test_ensure_topics_twice_is_harmless(stack: Settings) -> None:
    name = unique_name("topic")
    await ensure_topics(stack, {name: 2})
    await ensure_topics(stack, {name: 2})
    partitions, _ = await _describe(stack, name)
    assert partitions == 2
