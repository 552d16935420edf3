"""The SQL projection on MariaDB or TiDB: migrations, exactly-once aggregates, reset."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiomysql
import pytest

from squidstream.settings import Settings
from streams.sinks.sql import SqlProjection
from streams.synthetic import synthetic_events

pytestmark = [pytest.mark.stack, pytest.mark.sql]


@pytest.fixture
async def sql(stack: Settings) -> AsyncIterator[tuple[SqlProjection, Any]]:
    settings = stack.model_copy(update={"sql_database": f"squid_t_{uuid.uuid4().hex[:10]}"})
    projection = await SqlProjection.open(settings)
    conn = await aiomysql.connect(
        host=settings.sql_host,
        port=settings.sql_port,
        user=settings.sql_user,
        password=settings.sql_password.get_secret_value(),
        db=settings.sql_database,
        autocommit=True,
    )
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
async def test_a_re_delivered_batch_adds_no_rows_and_no_counts(
    sql: tuple[SqlProjection, Any],
) -> None:
    projection, conn = sql
    batch = synthetic_events(400, seed=11)
    rabbit = [dataclasses.replace(e, route="rabbitmq") for e in synthetic_events(100, seed=12)]
    await projection.apply(batch[:300])
    await projection.apply(batch[200:] + rabbit + rabbit[:10])
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
    assert await scalar(conn, "SELECT COUNT(*) FROM schema_migrations WHERE version = 1") == 1


@pytest.mark.asyncio
async def test_reset_leaves_empty_freshly_migrated_tables(sql: tuple[SqlProjection, Any]) -> None:
    projection, conn = sql
    await projection.apply(synthetic_events(50, seed=13))
    await projection.reset()
    assert await scalar(conn, "SELECT COUNT(*) FROM game_results") == 0
    assert await scalar(conn, "SELECT COUNT(*) FROM player_wins") == 0
    assert await scalar(conn, "SELECT COUNT(*) FROM schema_migrations") == 1


@pytest.mark.asyncio
async def test_quotes_backslashes_and_percent_signs_in_strings_are_stored_verbatim(
    sql: tuple[SqlProjection, Any],
) -> None:
    projection, conn = sql
    tricky = 'it\'s \\ 100% "odd"; DROP TABLE x; --'
    event = dataclasses.replace(synthetic_events(1, seed=14)[0], request_id=tricky[:64])
    await projection.apply([event])
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT request_id FROM game_results WHERE event_id = %s", (event.event_id,)
        )
        row = await cur.fetchone()
    assert row[0] == tricky[:64]
