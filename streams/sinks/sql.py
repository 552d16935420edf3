"""The SQL projection and ledger: one transaction per batch, tracked by offset.

In one transaction: read the partitions' tracking records (`projection_offsets`), insert
the rows of the events at offsets not applied yet (a duplicate key keeps the first copy,
with its log position), add to the aggregates only the rows this batch inserted (they carry
its `batch_id`), and advance the tracking records. SQL keeps every event id forever, so it
is the ledger: it tells the other stores and the tables which copy of an event id is the
canonical one (the row's `kafka_partition`/`kafka_offset` are that copy's).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiomysql
import pymysql  # type: ignore[import-untyped]

from squidstream.settings import Settings
from streams.errors import SinkError
from streams.projection.batch import Batch
from streams.projection.decode import Event
from streams.sinks.errors import from_mysql
from streams.sinks.sql_schema.migrate import drop_projection_tables, migrate

COLUMNS = (
    "event_id, request_id, game_id, game_name, players, winner, route, gateway_id,"
    " occurred_at_ms, schema_version, projected_at_ms, batch_id, kafka_partition, kafka_offset"
)
# A duplicate event id changes nothing (and, unlike INSERT IGNORE, a value too long for
# its column is an error, never a silent truncation).
ON_DUPLICATE = " ON DUPLICATE KEY UPDATE event_id = event_id"
# Each aggregate counts only the rows this batch inserted, so a re-delivered event adds nothing.
AGGREGATES = (
    "INSERT INTO player_wins (player, wins) SELECT winner, COUNT(*) FROM game_results"
    " WHERE batch_id = %s GROUP BY winner ON DUPLICATE KEY UPDATE wins = wins + VALUES(wins)",
    "INSERT INTO game_size_counts (players, games) SELECT players, COUNT(*) FROM game_results"
    " WHERE batch_id = %s GROUP BY players ON DUPLICATE KEY UPDATE games = games + VALUES(games)",
    "INSERT INTO game_counts (game_id, game_name, games) SELECT game_id, MAX(game_name), COUNT(*)"
    " FROM game_results WHERE batch_id = %s GROUP BY game_id"
    " ON DUPLICATE KEY UPDATE games = games + VALUES(games)",
    "INSERT INTO route_counts (route, games) SELECT route, COUNT(*) FROM game_results"
    " WHERE batch_id = %s GROUP BY route ON DUPLICATE KEY UPDATE games = games + VALUES(games)",
)
READ_TRACKING = "SELECT partition_id, next_offset FROM projection_offsets WHERE topic = %s"
WRITE_TRACKING = (
    "INSERT INTO projection_offsets (topic, partition_id, next_offset) VALUES {rows}"
    " ON DUPLICATE KEY UPDATE next_offset = GREATEST(next_offset, VALUES(next_offset))"
)
# A locking read sees the newest committed rows, also those a concurrent batch just wrote.
READ_COPIES = (
    "SELECT event_id, kafka_partition, kafka_offset FROM game_results"
    " WHERE event_id IN ({ids}){lock}"
)


class QuietCursor(aiomysql.Cursor):  # type: ignore[misc]
    """A cursor that does not fetch warnings (one round trip fewer per statement)."""

    async def _show_warnings(self, conn: Any) -> None:
        return None


def new_batch_id() -> int:
    """A random positive 63-bit id; a collision would need ~3e9 batches to be likely."""
    return secrets.randbits(63) or 1


def insert_statement(
    events: Sequence[Event], projected_at_ms: int, batch_id: int, escape: Callable[[str], str]
) -> str:
    """One multi-row INSERT with literal values.

    pymysql's executemany escapes every parameter through a generic per-type dispatch, which
    cost ~40 us per row (the worker's biggest Python cost); only the strings need escaping.
    """
    tail = f"{int(projected_at_ms)},{int(batch_id)}"
    values = ",".join(
        f"('{escape(e.event_id)}','{escape(e.request_id)}',{int(e.game_id)},"
        f"'{escape(e.game_name)}',{int(e.players)},{int(e.winner)},'{escape(e.route)}',"
        f"'{escape(e.gateway_id)}',{int(e.occurred_at_ms)},{int(e.schema_version)},{tail},"
        f"{int(e.partition)},{int(e.offset)})"
        for e in events
    )
    return f"INSERT INTO game_results ({COLUMNS}) VALUES {values}{ON_DUPLICATE}"


class SqlProjection:
    """game_results, the aggregate tables and the tracking records, in MariaDB or TiDB."""

    name = "sql"

    def __init__(self, pool: Any, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings
        self._topic = settings.events_topic
        self._timeout_s = settings.store_timeout_s

    @classmethod
    async def open(cls, settings: Settings) -> SqlProjection:
        """Create the database if missing, migrate it, and open a small pool."""
        try:
            await _create_database(settings)
            pool = await aiomysql.create_pool(minsize=1, maxsize=2, **_connect_args(settings))
        except (pymysql.MySQLError, OSError) as exc:
            raise SinkError(f"cannot open SQL at {settings.sql_host}: {exc}") from exc
        projection = cls(pool, settings)
        await projection.migrate()
        return projection

    async def migrate(self) -> None:
        async with self._pool.acquire() as conn:
            await migrate(conn)

    async def _run(self, what: str, work: Callable[[Any], Any]) -> Any:
        """`work(connection)` in one transaction with a timeout; the connection is dropped
        on any failure (a statement cut off by the timeout leaves it in an unknown state)."""
        conn = await self._connection(what)
        try:
            async with asyncio.timeout(self._timeout_s):
                result = await work(conn)
                await conn.commit()
        except BaseException as exc:
            conn.close()
            self._pool.release(conn)
            error = from_mysql(exc, what)
            if error is exc:
                raise
            raise error from exc
        self._pool.release(conn)
        return result

    async def _connection(self, what: str) -> Any:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._pool.acquire()
        except BaseException as exc:
            error = from_mysql(exc, f"{what} (connect)")
            if error is exc:
                raise
            raise error from exc

    async def apply(self, batch: Batch) -> None:
        batch.canonical = await self._run(
            f"SQL batch of {len(batch.events)}", lambda conn: self._apply(conn, batch)
        )

    async def _apply(self, conn: Any, batch: Batch) -> list[Event]:
        async with conn.cursor() as cur:
            applied = await self._tracking(cur)
            _check_behind(self.name, batch, applied)
            fresh = [e for e in batch.events if e.offset >= applied.get(e.partition, 0)]
            inserted = 0
            if fresh:
                batch_id = new_batch_id()
                now_ms = int(time.time() * 1000)
                inserted = await cur.execute(
                    insert_statement(fresh, now_ms, batch_id, conn.escape_string)
                )
                for statement in AGGREGATES:
                    await cur.execute(statement, (batch_id,))
            await cur.execute(self._tracking_statement(batch, applied))
            if inserted == len(fresh) == len(batch.events):
                return list(batch.events)  # every event is new: each is its id's first copy
            return await _canonical(cur, batch.events, conn.escape_string, lock=True)

    async def _tracking(self, cur: Any) -> dict[int, int]:
        await cur.execute(READ_TRACKING, (self._topic,))
        return {int(partition): int(offset) for partition, offset in await cur.fetchall()}

    def _tracking_statement(self, batch: Batch, applied: dict[int, int]) -> str:
        topic = pymysql.converters.escape_string(self._topic)
        rows = ",".join(
            f"('{topic}',{int(p)},{int(max(span.next, applied.get(p, 0)))})"
            for p, span in sorted(batch.spans.items())
        )
        return WRITE_TRACKING.format(rows=rows)

    async def canonical_of(self, events: Sequence[Event]) -> list[Event]:
        if not events:
            return []

        async def read(conn: Any) -> list[Event]:
            async with conn.cursor() as cur:
                return await _canonical(cur, events, conn.escape_string, lock=False)

        result: list[Event] = await self._run("SQL canonical copies", read)
        return result

    async def positions(self) -> dict[int, int]:
        async def read(conn: Any) -> dict[int, int]:
            async with conn.cursor() as cur:
                return await self._tracking(cur)

        result: dict[int, int] = await self._run("SQL tracking records", read)
        return result

    async def reset(self) -> None:
        try:
            async with self._pool.acquire() as conn:
                await drop_projection_tables(conn)
        except pymysql.MySQLError as exc:
            raise SinkError(f"cannot reset SQL: {exc}") from exc
        await self.migrate()

    async def close(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()


def _check_behind(store: str, batch: Batch, applied: dict[int, int]) -> None:
    from streams.errors import StoreBehind

    for partition, span in batch.spans.items():
        if applied.get(partition, 0) < span.first:
            raise StoreBehind(store, partition, applied.get(partition, 0), span.first)


async def _canonical(
    cur: Any, events: Sequence[Event], escape: Callable[[str], str], *, lock: bool
) -> list[Event]:
    ids = ",".join(f"'{escape(e.event_id)}'" for e in events)
    await cur.execute(READ_COPIES.format(ids=ids, lock=" FOR UPDATE" if lock else ""))
    first = {str(eid): (int(p), int(o)) for eid, p, o in await cur.fetchall()}
    return [e for e in events if first.get(e.event_id) == (e.partition, e.offset)]


def _connect_args(settings: Settings, with_db: bool = True) -> dict[str, Any]:
    args: dict[str, Any] = {
        "host": settings.sql_host,
        "port": settings.sql_port,
        "user": settings.sql_user,
        "password": settings.sql_password.get_secret_value(),
        "autocommit": False,
        "charset": "utf8mb4",
        "cursorclass": QuietCursor,
        "connect_timeout": settings.store_timeout_s,
        "ssl": settings.sql_ssl(),  # None without SQUID_SQL_TLS
    }
    if with_db:
        args["db"] = settings.sql_database
    return args


async def _create_database(settings: Settings) -> None:
    conn = await aiomysql.connect(**_connect_args(settings, with_db=False))
    try:
        async with conn.cursor() as cur:
            # Backticks are MySQL and TiDB syntax alike; the name comes from our own settings.
            await cur.execute(f"CREATE DATABASE IF NOT EXISTS `{settings.sql_database}`")
        await conn.commit()
    finally:
        conn.close()
