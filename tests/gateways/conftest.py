"""Fixtures for the gateway tests that use the real servers: own topic, queue and Redis prefix."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from loadtest.brokers import delete_queue, delete_topic
from squidstream.settings import Settings
from tests.gateways.stack_harness import drop_prefix


@pytest.fixture
async def isolated(stack: Settings) -> AsyncIterator[Settings]:
    """The shared servers, with a topic, a queue and a Redis key prefix of this test's own."""
    name = f"test-gateways-{uuid.uuid4().hex[:10]}"
    settings = stack.model_copy(
        update={
            "events_topic": name,
            "rabbitmq_queue": name,
            "events_partitions": 2,
            "redis_prefix": name,
        }
    )
    yield settings
    await delete_topic(settings, name)
    await delete_queue(settings, name)
    await drop_prefix(settings)
