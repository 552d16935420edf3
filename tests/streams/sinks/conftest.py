"""Fixtures of the sink tests: each real store on names of the test's own, dropped after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from squidstream.settings import Settings
from streams.sinks.mongo import MongoProjection
from streams.sinks.redis import RedisProjection
from streams.sinks.sql import SqlProjection
from tests.helpers import isolated_settings
from tests.streams.sinks.stores import Opened, open_mongo, open_redis, open_sql

OPENERS: dict[str, Callable[[Settings], Awaitable[Opened[Any, Any]]]] = {
    "sql": open_sql,
    "redis": open_redis,
    "mongo": open_mongo,
}


@pytest.fixture
def sink_settings(stack: Settings) -> Settings:
    return isolated_settings(stack, "sink")


async def _opened(name: str, settings: Settings) -> AsyncIterator[Opened[Any, Any]]:
    opened = await OPENERS[name](settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=sorted(OPENERS))
async def store(
    sink_settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[Opened[Any, Any]]:
    """Each of the three stores in turn: the contract suite runs once per store."""
    async for opened in _opened(request.param, sink_settings):
        yield opened


@pytest.fixture
async def sql(sink_settings: Settings) -> AsyncIterator[Opened[SqlProjection, Any]]:
    async for opened in _opened("sql", sink_settings):
        yield opened


@pytest.fixture
async def redis(sink_settings: Settings) -> AsyncIterator[Opened[RedisProjection, aioredis.Redis]]:
    async for opened in _opened("redis", sink_settings):
        yield opened


@pytest.fixture
async def mongo(sink_settings: Settings) -> AsyncIterator[Opened[MongoProjection, Any]]:
    async for opened in _opened("mongo", sink_settings):
        yield opened
