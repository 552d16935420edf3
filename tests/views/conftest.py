"""Fixtures of the views tests: per-test store names on the shared servers, an app client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from squidstream import isolation
from squidstream.settings import Settings
from tests.views.pipeline import Pipeline, pipeline_settings, start_pipeline, stop_pipeline
from tests.views.seed import drop_all
from views.app import create_app


def isolated(settings: Settings, tag: str = "") -> Settings:
    """The stack's settings with a Redis prefix, SQL and Mongo database of this test's own
    (and a Faust app id on whose workers topic no worker ever announces itself)."""
    return isolation.isolated(settings, f"views_test_{tag}{uuid.uuid4().hex[:10]}")


@pytest_asyncio.fixture
async def store_settings(stack: Settings) -> AsyncIterator[Settings]:
    """Unique store names; everything written under them is dropped afterwards."""
    settings = isolated(stack)
    yield settings
    await drop_all(settings)


@pytest_asyncio.fixture
async def api(store_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to a running app (lifespan entered) on the isolated stores."""
    app = create_app(store_settings, live_interval_s=0.2)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://views") as client,
    ):
        yield client


@pytest.fixture
def offline_settings() -> Settings:
    """Settings whose stores nobody listens on: for tests of the API's own behaviour."""
    return Settings(
        redis_port=9,
        sql_port=9,
        mongo_port=9,
        redis_prefix=f"views-offline-{uuid.uuid4().hex[:8]}",
        kafka_port=9,
    )


@pytest.fixture(scope="session")
def pipeline(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """One real worker on a private topic, shared by the pipeline and browser tests."""
    running = start_pipeline(pipeline_settings(stack), tmp_path_factory.mktemp("views-worker"))
    try:
        yield running
    finally:
        stop_pipeline(running)
        asyncio.run(drop_all(running.settings))
