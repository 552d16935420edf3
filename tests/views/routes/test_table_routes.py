"""The Faust table routes with no worker anywhere: 503 naming the store, 422 for bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from squidstream.settings import Settings
from views.app import create_app


@pytest_asyncio.fixture
async def client(offline_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(offline_settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://v") as api,
    ):
        yield api


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/api/tables", "/api/tables/player_wins/3"])
async def test_no_announced_worker_is_503_naming_the_faust_store(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 503
    assert response.json()["store"] == "faust"
    assert "no worker announced" in response.json()["detail"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    [
        "/api/tables/no_such_table/3",
        "/api/tables/player_wins/a%20b",
        "/api/tables/player_wins/" + "9" * 65,
    ],
)
async def test_an_unknown_table_or_a_malformed_key_is_422(
    client: httpx.AsyncClient, path: str
) -> None:
    assert (await client.get(path)).status_code == 422
