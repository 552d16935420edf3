"""The SQL projection on MariaDB or TiDB: migrations, exactly-once aggregates, reset."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from squidstream.settings import Settings
from streams.sinks.sql import SqlProjection
from streams.synthetic import synthetic_events
from tests.helpers import sql_connect
from tests.streams.sinks.test_tracking_contract import batch, laid_out

pytestmark = [pytest.mark.stack, pytest.mark.sql]


@pytest.fixture
async def sql(stack: Settings) -> AsyncIterator[tuple[SqlProjection, Any]]:
    settings = stack.model_copy(update={"sql_database": f"squid_t_{uuid.uuid4().hex[:10]}"})
    projection = await SqlProjection.open(settings)
    conn = await sql_connect(settings)
    try:
        yield projection, conn
    finally:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE `{settings.sql_database}`")
        conn.close()
        await projection.close()


async def scalar(conn: Any, query: str) -> int:
    async with conn.cursor() as cur:
        await cur.execute(query)
        row = await cur.fetchone()
    return int(row[0] or 0)


@pytest.mark.asyncio
async def test_every_aggregate_counts_each_route_and_game_once(
    sql: tuple[SqlProjection, Any],
) -> None:
    projection, conn = sql
    kafka = synthetic_events(400, seed=11)
    rabbit = [dataclasses.replace(e, route="rabbitmq") for e in synthetic_events(100, seed=12)]
    events = laid_out(kafka + rabbit + kafka[:10])  # ten copies at later offsets
    await projection.apply(batch(events[:300]))
    await projection.apply(batch(events[200:]))
    assert await scalar(conn, "SELECT COUNT(*) FROM game_results") == 500
    assert await scalar(conn, "SELECT SUM(wins) FROM player_wins") == 500
    assert await scalar(conn, "SELECT SUM(games) FROM game_size_counts") == 500
    assert await scalar(conn, "SELECT SUM(games) FROM game_counts") == 500
    assert await scalar(conn, "SELECT games FROM route_counts WHERE route='rabbitmq'") == 100


@pytest.mark.asyncio
async def test_migrations_are_recorded_and_not_applied_twice(
    sql: tuple[SqlProjection, Any],
) -> None:
    projection, conn = sql
    await projection.migrate()
    assert await scalar(conn, "SELECT COUNT(*) FROM schema_migrations WHERE version = 2") == 1


@pytest.mark.asyncio
async def test_reset_leaves_empty_freshly_migrated_tables(sql: tuple[SqlProjection, Any]) -> None:
    projection, conn = sql
    await projection.apply(batch(laid_out(synthetic_events(50, seed=13))))
    await projection.reset()
    assert await scalar(conn, "SELECT COUNT(*) FROM game_results") == 0
    assert await scalar(conn, "SELECT COUNT(*) FROM player_wins") == 0
    assert await scalar(conn, "SELECT COUNT(*) FROM projection_offsets") == 0
    assert await scalar(conn, "SELECT COUNT(*) FROM schema_migrations") == 2


@pytest.mark.asyncio
async def test_quotes_backslashes_and_percent_signs_in_strings_are_stored_verbatim(
    sql: tuple[SqlProjection, Any],
) -> None:
    projection, conn = sql
    tricky = 'it\'s \\ 100% "odd"; DROP TABLE x; --'
    event = dataclasses.replace(synthetic_events(1, seed=14)[0], request_id=tricky)
    await projection.apply(batch(laid_out([event])))
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT request_id FROM game_results WHERE event_id = %s", (event.event_id,)
        )
        row = await cur.fetchone()
    assert row[0] == tricky
