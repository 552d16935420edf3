"""The report routes over stand-in adapters: status codes and bodies, without any server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from squidstream.settings import Settings
from views.app import create_app
from views.deps import get_reports
from views.errors import StoreUnavailable
from views.models import Freshness, LastGames, PlayerStats, ReportStore, TopPlayers
from views.stores.base import ResultReports


class Reports:
    """Answers from memory; `down` fails every call as an unreachable store would."""

    store = "redis"

    def __init__(self, down: bool = False) -> None:
        self.down = down

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable(self.store, "connection refused")

    async def last_games(self) -> LastGames:
        self._check()
        return LastGames(store=self.store, freshness=Freshness.at(1), games=[])

    async def top_players(self) -> TopPlayers:
        self._check()
        return TopPlayers(store=self.store, freshness=Freshness.at(1), players=[])

    async def player_stats(self, player: int) -> PlayerStats | None:
        self._check()
        if player != 7:
            return None
        fresh = Freshness.at(1)
        return PlayerStats(
            store=self.store, freshness=fresh, player=7, played=3, won=1, lost=2, recent=[]
        )

    async def projected_at_ms(self) -> int | None:
        return 1

    async def events(self) -> int:
        return 0


@pytest_asyncio.fixture(params=[False, True], ids=["up", "down"])
async def client(
    request: pytest.FixtureRequest, offline_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(offline_settings)
    reports = Reports(down=request.param)

    def fake_reports(store: ReportStore) -> ResultReports:
        # Same path parameter as the real dependency, so its validation still applies.
        return reports

    app.dependency_overrides[get_reports] = fake_reports
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://v") as api,
    ):
        api.headers["x-store-down"] = str(request.param)
        yield api


def _down(api: httpx.AsyncClient) -> bool:
    return api.headers["x-store-down"] == "True"


@pytest.mark.asyncio
async def test_a_known_player_gets_stats_or_503_when_the_store_is_down(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/reports/redis/players/7")

    if _down(client):
        assert response.status_code == 503
        assert response.json()["store"] == "redis"
    else:
        assert response.status_code == 200
        assert response.json()["lost"] == 2


@pytest.mark.asyncio
async def test_an_unknown_player_is_404_unless_the_store_is_down(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/reports/sql/players/8")

    assert response.status_code == (503 if _down(client) else 404)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/api/reports/tidb/top-players", "/api/reports/redis/players/-1"])
async def test_bad_path_parameters_are_422_before_any_store_is_asked(
    client: httpx.AsyncClient, path: str
) -> None:
    assert (await client.get(path)).status_code == 422


@pytest.mark.asyncio
async def test_the_dashboard_and_its_chart_library_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    library = await client.get("/vendor/chart.umd.js")

    assert page.status_code == 200
    assert 'id="chart-top-games"' in page.text
    assert library.status_code == 200
    assert "Chart.js" in library.text[:200]
