"""The read API over seeded stores: reports agree across stores, errors are 404/422/503."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import httpx
import pytest

from squidstream.settings import Settings
from tests.views.seed import (
    START_MS,
    SeedGame,
    make_games,
    seed_all,
    seed_mongo,
)
from views.app import create_app

pytestmark = [pytest.mark.stack, pytest.mark.sql]
N = 400
PROJECTED_AT = 1_767_300_000_000
STORES = ["redis", "sql"]


@pytest.fixture
async def games(store_settings: Settings) -> list[SeedGame]:
    games = make_games(N, seed=5)
    await seed_all(store_settings, games, PROJECTED_AT)
    return games


async def from_both(api: httpx.AsyncClient, report: str) -> tuple[Any, Any]:
    """One report's answers from Redis and from SQL."""
    redis, sql = [(await api.get(f"/api/reports/{store}/{report}")).json() for store in STORES]
    return redis, sql


async def walk_log(
    api: httpx.AsyncClient, params: dict[str, str | int]
) -> tuple[list[str], dict[str, Any]]:
    """Every page of the audit log for `params`: the event ids seen, and the last page."""
    seen: list[str] = []
    while True:
        body = (await api.get("/api/audit/log", params=params)).json()
        seen += [entry["event_id"] for entry in body["entries"]]
        if body["next"] is None:
            return seen, body
        params = {**params, "after": body["next"]}


@pytest.mark.asyncio
async def test_redis_and_sql_report_the_same_top_ten(
    games: list[SeedGame], api: httpx.AsyncClient
) -> None:
    redis, sql = await from_both(api, "top-players")

    assert (redis["store"], sql["store"]) == ("redis", "sql")
    assert redis["players"] == sql["players"]
    assert len(redis["players"]) == 10


@pytest.mark.asyncio
async def test_every_answer_says_how_fresh_it_is(
    games: list[SeedGame], api: httpx.AsyncClient
) -> None:
    for path in ("/api/reports/redis/last-games", "/api/reports/sql/last-games", "/api/audit/log"):
        freshness = (await api.get(path)).json()["freshness"]
        assert freshness["projected_at_ms"] == PROJECTED_AT
        assert freshness["lag_ms"] == freshness["as_of_ms"] - PROJECTED_AT


@pytest.mark.asyncio
async def test_a_players_stats_agree_across_stores_and_sum_to_played(
    games: list[SeedGame], api: httpx.AsyncClient
) -> None:
    redis, sql = await from_both(api, "players/3")

    for key in ("played", "won", "lost", "recent"):
        assert redis[key] == sql[key]
    assert redis["played"] == sum(g.players >= 3 for g in games)
    assert redis["won"] + redis["lost"] == redis["played"]


@pytest.mark.asyncio
@pytest.mark.parametrize("store", STORES)
async def test_an_unknown_player_is_404(
    games: list[SeedGame], api: httpx.AsyncClient, store: str
) -> None:
    response = await api.get(f"/api/reports/{store}/players/999999")

    assert response.status_code == 404
    assert "999999" in response.json()["detail"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    [
        "/api/reports/mongo/top-players",
        "/api/reports/redis/players/0",
        "/api/reports/sql/players/abc",
        "/api/audit/log?page_size=0",
        "/api/audit/log?page_size=1000",
        "/api/audit/log?route=carrier-pigeon",
        "/api/audit/log?from_ms=20&to_ms=10",
        "/api/audit/log?after=not-a-cursor",
    ],
)
async def test_bad_parameters_are_422(api: httpx.AsyncClient, path: str) -> None:
    assert (await api.get(path)).status_code == 422


@pytest.mark.asyncio
async def test_audit_counts_sum_to_the_number_of_games(
    games: list[SeedGame], api: httpx.AsyncClient
) -> None:
    routes = (await api.get("/api/audit/routes")).json()["routes"]
    top = (await api.get("/api/audit/top-games")).json()["games"]

    assert {r["route"]: r["inserts"] for r in routes} == Counter(g.route for g in games)
    expected = sorted(Counter(g.game_id for g in games).items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(g["game_id"], g["games"]) for g in top] == expected[:3]
    assert all(g["game_name"] for g in top)


@pytest.mark.asyncio
async def test_the_audit_log_pages_newest_first_through_a_filter(
    games: list[SeedGame], api: httpx.AsyncClient
) -> None:
    wanted = [g for g in reversed(games) if g.game_id == 2 and g.route == "kafka"]
    seen, body = await walk_log(api, {"game_id": 2, "route": "kafka", "page_size": 7})

    assert seen == [g.event_id for g in wanted]
    assert "total" not in body


@pytest.mark.asyncio
async def test_the_audit_log_pages_through_games_that_occurred_in_the_same_millisecond(
    store_settings: Settings, api: httpx.AsyncClient
) -> None:
    # Three games per millisecond: the cursor must break ties by _id, losing none.
    games = [replace(g, occurred_at_ms=START_MS + i // 3) for i, g in enumerate(make_games(20))]
    await seed_mongo(store_settings, games, PROJECTED_AT)
    seen, _ = await walk_log(api, {"page_size": 2})

    newest_first = sorted(games, key=lambda g: (g.occurred_at_ms, g.event_id), reverse=True)
    assert seen == [g.event_id for g in newest_first]


@pytest.mark.asyncio
async def test_the_audit_log_time_range_is_half_open(
    games: list[SeedGame], api: httpx.AsyncClient
) -> None:
    start, end = games[10].occurred_at_ms, games[20].occurred_at_ms
    params = {"from_ms": start, "to_ms": end, "page_size": 200}

    body = (await api.get("/api/audit/log", params=params)).json()

    assert [e["event_id"] for e in body["entries"]] == [g.event_id for g in games[19:9:-1]]


@pytest.mark.asyncio
async def test_ready_when_every_store_answers(
    games: list[SeedGame], api: httpx.AsyncClient
) -> None:
    response = await api.get("/readyz")

    assert response.status_code == 200
    assert {c["name"] for c in response.json()["checks"]} == {"redis", "sql", "mongo"}


@pytest.mark.asyncio
async def test_not_ready_while_the_sql_tables_are_missing(api: httpx.AsyncClient) -> None:
    response = await api.get("/readyz")

    assert response.status_code == 503
    failing = [c["name"] for c in response.json()["checks"] if not c["ok"]]
    assert "sql" in failing


@pytest.mark.asyncio
async def test_a_report_from_a_store_without_tables_is_503_naming_the_store(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/api/reports/sql/top-players")

    assert response.status_code == 503
    assert response.json()["store"] == "sql"


@pytest.mark.asyncio
async def test_metrics_count_requests_by_route_template_and_show_projection_lag(
    games: list[SeedGame], store_settings: Settings
) -> None:
    app = create_app(store_settings, live_interval_s=0.05)
    transport = httpx.ASGITransport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://v") as api,
    ):
        await api.get("/api/reports/redis/players/1")
        await api.get("/api/reports/redis/players/2")
        await api.get("/api/audit/log", params={"page_size": 3})
        await app.state.live.tick()
        text = (await api.get("/metrics")).text

    template = 'path="/api/reports/{store}/players/{player}",status="200"} 2.0'
    assert template in text
    assert 'squid_views_projection_lag_seconds{store="sql"}' in text
    assert f'squid_views_projected_events_total{{store="redis"}} {float(N)}' in text
    # The seed projects through the real Mongo sink, which keeps the newest entries.
    assert 'squid_views_audit_pages_total{source="recent"} 1.0' in text
