"""SQUID_READ_TOKEN: the read API asks for it when set; health, metrics and the page stay open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from squidstream.auth import http_headers
from squidstream.settings import Settings
from views.app import create_app

TOKEN = SecretStr("read-token-for-tests-0123")
API_PATHS = [
    "/api/reports/redis/last-games",
    "/api/reports/sql/top-players",
    "/api/audit/log",
    "/api/tables",
    "/api/live/latest",
    "/api/live",
]


@pytest.fixture
async def guarded(offline_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(offline_settings.model_copy(update={"read_token": TOKEN}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://views") as client,
    ):
        yield client


@pytest.mark.asyncio
@pytest.mark.parametrize("path", API_PATHS)
async def test_the_read_api_without_the_token_is_401(guarded: httpx.AsyncClient, path: str) -> None:
    response = await guarded.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    wrong = await guarded.get(path, headers={"Authorization": "Bearer not-the-read-token-x"})
    assert wrong.status_code == 401


@pytest.mark.asyncio
async def test_the_read_api_with_the_token_reaches_the_stores(guarded: httpx.AsyncClient) -> None:
    # The stores are offline here: 503 shows the request got past the token to the store.
    response = await guarded.get("/api/reports/redis/last-games", headers=http_headers(TOKEN))
    assert response.status_code == 503
    latest = await guarded.get("/api/live/latest", headers=http_headers(TOKEN))
    assert latest.status_code == 200


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/", "/static/app.js"])
async def test_health_metrics_and_the_page_stay_open(guarded: httpx.AsyncClient, path: str) -> None:
    assert (await guarded.get(path)).status_code == 200
