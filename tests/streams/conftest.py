"""Tests of the streams package; tests/streams/streams_harness.py holds shared helpers."""

from collections.abc import AsyncIterator

import pytest

from squidstream.settings import Settings
from squidstream.topics import ensure_topics
from tests.streams.streams_harness import drop_stores, isolated


@pytest.fixture
async def settings(stack: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Settings]:
    """This test's own topic, queue, group, prefix and databases, dropped afterwards."""
    isolated_settings = isolated(stack, request.node.name[5:17].replace("_", ""))
    yield isolated_settings
    await drop_stores(isolated_settings)


@pytest.fixture
async def events_topic(settings: Settings) -> str:
    """This test's events topic, created up front with four partitions."""
    await ensure_topics(settings, {settings.events_topic: 4})
    return settings.events_topic
