"""One suite, run against the Redis and the SQL adapter: both answer the same reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomysql
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from squidstream.settings import Settings
from tests.views.seed import SeedGame, make_games, seed_redis, seed_sql
from views.stores.base import ResultReports
from views.stores.redis_reports import RedisReports
from views.stores.sql_reports import SqlReports

PROJECTED_AT = 1_767_300_000_000
pytestmark = [pytest.mark.stack, pytest.mark.sql]


async def _redis_adapter(settings: Settings) -> tuple[ResultReports, Callable[[], Any]]:
    client = aioredis.Redis(
        host=settings.redis_host, port=settings.redis_port, decode_responses=True
    )
    return RedisReports(client, settings.redis_prefix), client.aclose


async def _sql_adapter(settings: Settings) -> tuple[ResultReports, Callable[[], Any]]:
    pool = await aiomysql.create_pool(
        host=settings.sql_host,
        port=settings.sql_port,
        user=settings.sql_user,
        db=settings.sql_database,
        autocommit=True,
        minsize=0,
    )

    async def close() -> None:
        pool.close()
        await pool.wait_closed()

    return SqlReports(pool), close


SEEDERS = {"redis": seed_redis, "sql": seed_sql}
ADAPTERS = {"redis": _redis_adapter, "sql": _sql_adapter}


@pytest_asyncio.fixture(params=["redis", "sql"])
async def seeded(
    request: pytest.FixtureRequest, store_settings: Settings
) -> AsyncIterator[tuple[ResultReports, list[SeedGame]]]:
    games = make_games(300, seed=11)
    await SEEDERS[request.param](store_settings, games, PROJECTED_AT)
    reports, close = await ADAPTERS[request.param](store_settings)
    yield reports, games
    await close()


def expected_top(games: list[SeedGame]) -> list[tuple[int, int]]:
    wins = Counter(g.winner for g in games)
    return sorted(wins.items(), key=lambda pw: (-pw[1], pw[0]))[:10]


@pytest.mark.asyncio
async def test_top_players_are_the_ten_with_most_wins_ties_to_the_lower_number(
    seeded: tuple[ResultReports, list[SeedGame]],
) -> None:
    reports, games = seeded

    answer = await reports.top_players()

    assert [(p.player, p.wins) for p in answer.players] == expected_top(games)
    assert answer.store == reports.store


@pytest.mark.asyncio
async def test_last_games_are_the_ten_newest_newest_first(
    seeded: tuple[ResultReports, list[SeedGame]],
) -> None:
    reports, games = seeded

    answer = await reports.last_games()

    assert [g.event_id for g in answer.games] == [g.event_id for g in reversed(games[-10:])]
    assert answer.freshness.projected_at_ms == PROJECTED_AT


@pytest.mark.asyncio
@pytest.mark.parametrize("player", [1, 2, 17, 30])
async def test_player_stats_count_every_game_with_at_least_that_many_players(
    seeded: tuple[ResultReports, list[SeedGame]], player: int
) -> None:
    reports, games = seeded
    theirs = [g for g in games if g.players >= player]

    stats = await reports.player_stats(player)

    assert stats is not None
    assert stats.played == len(theirs)
    assert stats.won == sum(g.winner == player for g in games)
    assert stats.lost == stats.played - stats.won
    newest = list(reversed(theirs))[:10]
    assert [(g.event_id, g.won) for g in stats.recent] == [
        (g.event_id, g.winner == player) for g in newest
    ]


@pytest.mark.asyncio
async def test_a_player_beyond_every_game_size_has_no_stats(
    seeded: tuple[ResultReports, list[SeedGame]],
) -> None:
    reports, games = seeded

    assert await reports.player_stats(max(g.players for g in games) + 1) is None


@pytest.mark.asyncio
async def test_the_store_counts_every_seeded_event(
    seeded: tuple[ResultReports, list[SeedGame]],
) -> None:
    reports, games = seeded

    assert await reports.events() == len(games)
    assert await reports.projected_at_ms() == PROJECTED_AT


@pytest.mark.asyncio
@pytest.mark.parametrize("store", ["redis", "sql"])
async def test_an_empty_store_answers_empty_reports(store_settings: Settings, store: str) -> None:
    await SEEDERS[store](store_settings, [], PROJECTED_AT)
    reports, close = await ADAPTERS[store](store_settings)
    try:
        assert (await reports.top_players()).players == []
        assert (await reports.last_games()).games == []
        assert await reports.player_stats(1) is None
        assert await reports.events() == 0
    finally:
        await close()
