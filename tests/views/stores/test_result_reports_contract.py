"""One suite over the stores' read adapters: the same events give the same answers.

Every store is seeded through its real sink (tests.views.seed) and read through the adapter
the app opens (views.resources). All three stores answer the projection counters (events,
projection time); Redis and SQL also answer the three result reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from squidstream.settings import Settings
from tests.views.seed import SeedGame, make_games, seed_mongo, seed_redis, seed_sql
from views.resources import open_resources
from views.stores.base import ProjectionCounters, ResultReports

PROJECTED_AT = 1_767_300_000_000
pytestmark = [pytest.mark.stack, pytest.mark.sql]
Seeder = Callable[[Settings, Sequence[SeedGame], int], Awaitable[None]]
SEEDERS: dict[str, Seeder] = {"mongo": seed_mongo, "redis": seed_redis, "sql": seed_sql}
RESULT_STORES = ["redis", "sql"]


class Seeded(NamedTuple):
    reports: Any  # ResultReports, or for every store only ProjectionCounters
    games: list[SeedGame]


@asynccontextmanager
async def reading(settings: Settings, store: str) -> AsyncIterator[Any]:
    """The store's adapter as the app builds it."""
    resources = await open_resources(settings)
    try:
        yield getattr(resources, f"{store}_reports")
    finally:
        await resources.close()


async def _seed(store: str, settings: Settings, games: list[SeedGame]) -> AsyncIterator[Seeded]:
    await SEEDERS[store](settings, games, PROJECTED_AT)
    async with reading(settings, store) as reports:
        yield Seeded(reports, games)


@pytest_asyncio.fixture(params=RESULT_STORES)
async def seeded(request: pytest.FixtureRequest, store_settings: Settings) -> AsyncIterator[Seeded]:
    async for seeded in _seed(request.param, store_settings, make_games(300, seed=11)):
        yield seeded


@pytest_asyncio.fixture(params=sorted(SEEDERS))
async def counted(
    request: pytest.FixtureRequest, store_settings: Settings
) -> AsyncIterator[Seeded]:
    async for seeded in _seed(request.param, store_settings, make_games(300, seed=11)):
        yield seeded


def expected_top(games: list[SeedGame]) -> list[tuple[int, int]]:
    wins = Counter(g.winner for g in games)
    return sorted(wins.items(), key=lambda pw: (-pw[1], pw[0]))[:10]


async def test_top_players_are_the_ten_with_most_wins_ties_to_the_lower_number(
    seeded: Seeded,
) -> None:
    answer = await seeded.reports.top_players()

    assert [(p.player, p.wins) for p in answer.players] == expected_top(seeded.games)
    assert answer.store == seeded.reports.store


async def test_last_games_are_the_ten_newest_newest_first(seeded: Seeded) -> None:
    newest = [g.event_id for g in reversed(seeded.games[-10:])]
    answer = await seeded.reports.last_games()

    assert [g.event_id for g in answer.games] == newest
    assert answer.freshness.projected_at_ms == PROJECTED_AT


@pytest.mark.parametrize("player", [1, 2, 17, 30])
async def test_player_stats_count_every_game_with_at_least_that_many_players(
    seeded: Seeded, player: int
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


async def test_a_player_beyond_every_game_size_has_no_stats(seeded: Seeded) -> None:
    beyond = max(g.players for g in seeded.games) + 1

    assert await seeded.reports.player_stats(beyond) is None


async def test_the_store_counts_every_seeded_event(counted: Seeded) -> None:
    counters: ProjectionCounters = counted.reports

    assert await counters.events() == len(counted.games)
    assert await counters.projected_at_ms() == PROJECTED_AT


@pytest.mark.parametrize("store", RESULT_STORES)
async def test_an_empty_store_answers_empty_reports(store_settings: Settings, store: str) -> None:
    await SEEDERS[store](store_settings, [], PROJECTED_AT)
    async with reading(store_settings, store) as reports:
        result: ResultReports = reports
        assert (await result.top_players()).players == []
        assert (await result.last_games()).games == []
        assert await result.player_stats(1) is None
        assert await result.events() == 0


@pytest.mark.parametrize("store", sorted(SEEDERS))
async def test_an_empty_store_counts_no_events_of_unknown_freshness(
    store_settings: Settings, store: str
) -> None:
    await SEEDERS[store](store_settings, [], PROJECTED_AT)
    async with reading(store_settings, store) as counters:
        assert await counters.events() == 0
        assert await counters.projected_at_ms() is None


@pytest.mark.parametrize("tied", [10, 11, 12, 30])
async def test_redis_breaks_a_tie_across_the_tenth_place_by_the_lower_player_number(
    store_settings: Settings, tied: int
) -> None:
    # Redis orders equal scores by member, as strings ("9" before "12"): the 11th tells.
    client = aioredis.Redis.from_url(store_settings.redis_url)
    try:
        wins = {str(player): 5 for player in range(1, tied + 1)} | {"50": 9}
        await client.zadd(f"{store_settings.redis_prefix}:wins", wins)
    finally:
        await client.aclose()
    async with reading(store_settings, "redis") as reports:
        answer = await reports.top_players()

    assert [(p.player, p.wins) for p in answer.players] == [(50, 9)] + [
        (player, 5) for player in range(1, 10)
    ]
