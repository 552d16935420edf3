"""The SQL projection on MariaDB or TiDB: the ledger, migrations, aggregates, poison, reset."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from streams.bench.synthetic import synthetic_events
from streams.errors import PoisonError
from streams.sinks.sql import SqlProjection
from tests.streams.sinks.stores import Opened, batch, laid_out

pytestmark = [pytest.mark.stack, pytest.mark.sql]
SqlStore = Opened[SqlProjection, Any]


async def scalars(conn: Any, *queries: str) -> list[int]:
    """The first column of the first row of each query (NULL counts as 0)."""
    values = []
    async with conn.cursor() as cur:
        for query in queries:
            await cur.execute(query)
            row = await cur.fetchone()
            values.append(int(row[0] or 0))
    return values


async def test_the_ledger_marks_only_the_first_copy_of_an_event_id_canonical(
    sql: SqlStore,
) -> None:
    events = laid_out(synthetic_events(6, seed=5))
    first = batch(events)
    await sql.projection.apply(first)
    copies = laid_out(events[:3], first=6)  # a bridge re-delivery, at new offsets
    again = batch(copies)
    again.canonical = []
    await sql.projection.apply(again)
    redelivered = batch(events)
    redelivered.canonical = []
    await sql.projection.apply(redelivered)
    assert first.canonical == events
    assert again.canonical == []
    assert redelivered.canonical == events  # the same offsets stay canonical
    assert await sql.count() == 6


async def test_sql_refuses_a_value_too_long_for_its_column_as_poison(sql: SqlStore) -> None:
    (event,) = laid_out(synthetic_events(1, seed=6))
    with pytest.raises(PoisonError, match="game_name"):
        await sql.projection.apply(batch([dataclasses.replace(event, game_name="x" * 40)]))
    assert await sql.count() == 0
    assert await sql.projection.positions() == {}


async def test_every_aggregate_counts_each_route_and_game_once(sql: SqlStore) -> None:
    kafka = synthetic_events(400, seed=11)
    rabbit = [dataclasses.replace(e, route="rabbitmq") for e in synthetic_events(100, seed=12)]
    events = laid_out(kafka + rabbit + kafka[:10])  # ten copies at later offsets
    await sql.projection.apply(batch(events[:300]))
    await sql.projection.apply(batch(events[200:]))
    assert await scalars(
        sql.client,
        "SELECT COUNT(*) FROM game_results",
        "SELECT SUM(wins) FROM player_wins",
        "SELECT SUM(games) FROM game_size_counts",
        "SELECT SUM(games) FROM game_counts",
        "SELECT games FROM route_counts WHERE route='rabbitmq'",
    ) == [500, 500, 500, 500, 100]


async def test_migrations_are_recorded_and_not_applied_twice(sql: SqlStore) -> None:
    await sql.projection.migrate()
    query = "SELECT COUNT(*) FROM schema_migrations WHERE version = 2"
    assert await scalars(sql.client, query) == [1]


async def test_reset_leaves_empty_freshly_migrated_tables(sql: SqlStore) -> None:
    await sql.projection.apply(batch(laid_out(synthetic_events(50, seed=13))))
    await sql.projection.reset()
    assert await scalars(
        sql.client,
        "SELECT COUNT(*) FROM game_results",
        "SELECT COUNT(*) FROM player_wins",
        "SELECT COUNT(*) FROM projection_offsets",
        "SELECT COUNT(*) FROM schema_migrations",
    ) == [0, 0, 0, 2]


async def test_quotes_backslashes_and_percent_signs_in_strings_are_stored_verbatim(
    sql: SqlStore,
) -> None:
    tricky = 'it\'s \\ 100% "odd"; DROP TABLE x; --'
    event = dataclasses.replace(synthetic_events(1, seed=14)[0], request_id=tricky)
    await sql.projection.apply(batch(laid_out([event])))
    async with sql.client.cursor() as cur:
        await cur.execute(
            "SELECT request_id FROM game_results WHERE event_id = %s", (event.event_id,)
        )
        row = await cur.fetchone()
    assert row[0] == tricky
