"""After a known flood through a real worker, every report of the API meets the invariants."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.views.pipeline import Pipeline, wait_until_projected
from tests.views.seed import SeedGame
from views.app import create_app

pytestmark = [
    pytest.mark.stack,
    pytest.mark.slow,
    pytest.mark.sql,
    pytest.mark.timeout(400),
    pytest.mark.asyncio(loop_scope="module"),
]
N = 3000


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def flooded(pipeline: Pipeline) -> AsyncIterator[tuple[httpx.AsyncClient, list[SeedGame]]]:
    """The API over the worker's stores once they hold every event produced so far."""
    app = create_app(pipeline.settings, live_interval_s=0.25)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://views") as api,
    ):
        await pipeline.produce(pipeline.games(N))
        await wait_until_projected(api, pipeline)
        yield api, list(pipeline.produced)


async def test_the_same_top_ten_from_redis_and_sql_as_the_flood_decided(
    flooded: tuple[httpx.AsyncClient, list[SeedGame]],
) -> None:
    api, games = flooded
    wins = Counter(g.winner for g in games)
    expected = sorted(wins.items(), key=lambda pw: (-pw[1], pw[0]))[:10]

    for store in ("redis", "sql"):
        players = (await api.get(f"/api/reports/{store}/top-players")).json()["players"]
        assert [(p["player"], p["wins"]) for p in players] == expected


async def test_counts_per_store_route_and_game_sum_to_the_flood(
    flooded: tuple[httpx.AsyncClient, list[SeedGame]],
) -> None:
    api, games = flooded
    live = (await api.get("/api/live/latest")).json()
    routes = (await api.get("/api/audit/routes")).json()["routes"]
    log = (await api.get("/api/audit/log", params={"page_size": 1})).json()
    top = (await api.get("/api/audit/top-games")).json()["games"]

    per_route = dict(Counter(g.route for g in games))
    assert live["events"] == {"redis": len(games), "sql": len(games), "mongo": len(games)}
    assert live["routes"] == per_route
    assert {r["route"]: r["inserts"] for r in routes} == per_route
    assert len(log["entries"]) == 1
    assert (log["next"] is None) == (len(games) == 1)
    per_game = sorted(Counter(g.game_id for g in games).items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(g["game_id"], g["games"]) for g in top] == per_game[:3]


@pytest.mark.parametrize("player", [1, 2, 10, 25, 40])
async def test_player_stats_agree_across_stores_and_with_the_flood(
    flooded: tuple[httpx.AsyncClient, list[SeedGame]], player: int
) -> None:
    api, games = flooded
    redis = (await api.get(f"/api/reports/redis/players/{player}")).json()
    sql = (await api.get(f"/api/reports/sql/players/{player}")).json()

    assert redis["played"] == sql["played"] == sum(g.players >= player for g in games)
    assert redis["won"] == sql["won"] == sum(g.winner == player for g in games)
    assert redis["lost"] == sql["lost"] == redis["played"] - redis["won"]
    assert [r["event_id"] for r in redis["recent"]] == [r["event_id"] for r in sql["recent"]]
    assert all(r["won"] == (r["winner"] == player) for r in redis["recent"])


async def test_last_games_are_games_of_the_flood_newest_first(
    flooded: tuple[httpx.AsyncClient, list[SeedGame]],
) -> None:
    api, games = flooded
    newest = sorted(games, key=lambda g: g.occurred_at_ms, reverse=True)[:10]
    by_id = {g.event_id for g in games}

    sql = (await api.get("/api/reports/sql/last-games")).json()["games"]
    redis = (await api.get("/api/reports/redis/last-games")).json()["games"]

    assert [g["event_id"] for g in sql] == [g.event_id for g in newest]
    assert len(redis) == 10
    assert {g["event_id"] for g in redis} <= by_id
    times = [g["occurred_at_ms"] for g in redis]
    assert times == sorted(times, reverse=True)


async def test_the_faust_tables_of_the_worker_sum_to_the_flood(
    flooded: tuple[httpx.AsyncClient, list[SeedGame]],
) -> None:
    api, games = flooded
    # The fixture waited for the stores; the tables follow them within a table flush
    # (streams.worker.projection_agent.TABLE_FLUSH_S), so they are read until they hold every game.
    deadline = time.monotonic() + 30
    while True:
        body = (await api.get("/api/tables")).json()
        counted = sum(body["tables"]["route_counts"].values())
        if counted >= len(games) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)

    assert [w["ok"] for w in body["workers"]] == [True]
    assert body["tables"]["route_counts"] == dict(Counter(g.route for g in games))
    assert sum(body["tables"]["player_wins"].values()) == len(games)


async def test_unknown_players_are_404_on_both_stores(
    flooded: tuple[httpx.AsyncClient, list[SeedGame]],
) -> None:
    api, games = flooded
    beyond = max(g.players for g in games) + 1

    for store in ("redis", "sql"):
        assert (await api.get(f"/api/reports/{store}/players/{beyond}")).status_code == 404
