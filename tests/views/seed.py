"""Test-only: write known games into Redis, SQL and Mongo in exactly the docs/stores.md layout."""

from __future__ import annotations

import contextlib
import json
import random
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import aiomysql
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from squidstream.contract import GAMES
from squidstream.settings import PROJECT_ROOT, Settings

MIGRATIONS = PROJECT_ROOT / "streams" / "sql" / "migrations"
GAME_NAMES = GAMES
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class SeedGame:
    event_id: str
    request_id: str
    game_id: int
    game_name: str
    players: int
    winner: int
    route: str
    gateway_id: str
    occurred_at_ms: int
    schema_version: int = 1


def make_games(count: int, seed: int = 7, max_players: int = 30) -> list[SeedGame]:
    """Games in occurrence order, one millisecond apart, with a reproducible mix."""
    rng = random.Random(seed)
    games = []
    for i in range(count):
        game_id, players = rng.randint(1, 5), rng.randint(1, max_players)
        games.append(
            SeedGame(
                event_id=f"ev-{seed}-{i:06d}",
                request_id=f"rq-{seed}-{i:06d}",
                game_id=game_id,
                game_name=GAME_NAMES[game_id],
                players=players,
                winner=rng.randint(1, players),
                route=rng.choice(["kafka", "rabbitmq"]),
                gateway_id="seed",
                occurred_at_ms=START_MS + i,
            )
        )
    return games


async def seed_redis(settings: Settings, games: list[SeedGame], projected_at_ms: int) -> None:
    client = aioredis.Redis(
        host=settings.redis_host, port=settings.redis_port, db=settings.redis_db
    )
    p = settings.redis_prefix
    try:
        pipe = client.pipeline(transaction=True)
        for player, wins in Counter(g.winner for g in games).items():
            pipe.zincrby(f"{p}:wins", wins, str(player))
        for name, counts in (
            ("sizes", Counter(g.players for g in games)),
            ("games", Counter(g.game_id for g in games)),
            ("routes", Counter(g.route for g in games)),
        ):
            if counts:
                pipe.hset(f"{p}:{name}", mapping={str(k): v for k, v in counts.items()})
        for game in games:  # oldest first, so LPUSH leaves the newest at the head
            doc = json.dumps(asdict(game))
            pipe.lpush(f"{p}:last", doc)
            pipe.lpush(f"{p}:recent:{game.players}", doc)
        pipe.ltrim(f"{p}:last", 0, 9)
        for size in {g.players for g in games}:
            pipe.ltrim(f"{p}:recent:{size}", 0, 9)
        pipe.hset(f"{p}:meta", mapping={"events": len(games), "projected_at_ms": projected_at_ms})
        await pipe.execute()
    finally:
        await client.aclose()


async def drop_redis(settings: Settings) -> None:
    client = aioredis.Redis(
        host=settings.redis_host, port=settings.redis_port, db=settings.redis_db
    )
    try:
        keys = [key async for key in client.scan_iter(f"{settings.redis_prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def _connect_args(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.sql_host,
        "port": settings.sql_port,
        "user": settings.sql_user,
        "password": settings.sql_password.get_secret_value(),
        "autocommit": True,
    }


def _ddl() -> list[str]:
    text = "\n".join(path.read_text() for path in sorted(MIGRATIONS.glob("V*.sql")))
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


async def seed_sql(settings: Settings, games: list[SeedGame], projected_at_ms: int) -> None:
    conn = await aiomysql.connect(**_connect_args(settings))
    db = settings.sql_database
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"CREATE DATABASE IF NOT EXISTS `{db}`")
            await cur.execute(f"USE `{db}`")
            for statement in _ddl():
                await cur.execute(statement)
            await _insert_sql_rows(cur, games, projected_at_ms)
    finally:
        await conn.ensure_closed()


async def _insert_sql_rows(cur: Any, games: list[SeedGame], projected_at_ms: int) -> None:
    if games:
        await cur.executemany(
            # Columns named: later migrations add columns with defaults.
            "INSERT INTO game_results (event_id, request_id, game_id, game_name, players,"
            " winner, route, gateway_id, occurred_at_ms, schema_version, projected_at_ms,"
            " batch_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            [(*asdict(g).values(), projected_at_ms, 1) for g in games],
        )
    wins = Counter(g.winner for g in games)
    sizes = Counter(g.players for g in games)
    per_game = Counter(g.game_id for g in games)
    routes = Counter(g.route for g in games)
    for sql, rows in (
        ("INSERT INTO player_wins VALUES (%s,%s)", list(wins.items())),
        ("INSERT INTO game_size_counts VALUES (%s,%s)", list(sizes.items())),
        (
            "INSERT INTO game_counts VALUES (%s,%s,%s)",
            [(k, GAME_NAMES[k], n) for k, n in per_game.items()],
        ),
        ("INSERT INTO route_counts VALUES (%s,%s)", list(routes.items())),
    ):
        if rows:
            await cur.executemany(sql, rows)


async def drop_sql(settings: Settings) -> None:
    conn = await aiomysql.connect(**_connect_args(settings))
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s",
                (settings.sql_database,),
            )
            (exists,) = await cur.fetchone()
            if exists:
                await cur.execute(f"DROP DATABASE `{settings.sql_database}`")
    finally:
        await conn.ensure_closed()


def _mongo(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=3000)


async def seed_mongo(settings: Settings, games: list[SeedGame], projected_at_ms: int) -> None:
    client = _mongo(settings)
    projected_at = datetime.fromtimestamp(projected_at_ms / 1000, tz=UTC)
    try:
        collection = client[settings.mongo_database][settings.mongo_collection]
        for field in ("occurred_at_ms", "game_id", "route"):
            await collection.create_index(field)
        docs = [
            {
                "_id": g.event_id,
                **asdict(g),
                "occurred_at": datetime.fromtimestamp(g.occurred_at_ms / 1000, tz=UTC),
                "projected_at": projected_at,
                "kafka_partition": i % 4,
                "kafka_offset": i // 4,
            }
            for i, g in enumerate(games)
        ]
        if docs:
            await collection.insert_many(docs, ordered=False)
        tracking = tracking_docs(settings.events_topic, games, projected_at)
        if tracking:
            await client[settings.mongo_database]["projection_tracking"].insert_many(tracking)
    finally:
        await client.close()


def tracking_docs(topic: str, games: list[SeedGame], projected_at: datetime) -> list[Any]:
    """The projection's counters for `games`, one document per partition (i % 4, as above)."""
    docs = []
    for partition in range(4):
        mine = games[partition::4]
        if not mine:
            continue
        games_by_id = Counter(str(g.game_id) for g in mine)
        docs.append(
            {
                "_id": f"{topic}:{partition}",
                "topic": topic,
                "partition": partition,
                "next_offset": len(mine),
                "events": len(mine),
                "games": dict(games_by_id),
                "routes": dict(Counter(g.route for g in mine)),
                "projected_at": projected_at,
            }
        )
    return docs


async def drop_mongo(settings: Settings) -> None:
    client = _mongo(settings)
    try:
        await client.drop_database(settings.mongo_database)
    finally:
        await client.close()


async def seed_all(settings: Settings, games: list[SeedGame], projected_at_ms: int) -> None:
    await seed_redis(settings, games, projected_at_ms)
    await seed_sql(settings, games, projected_at_ms)
    await seed_mongo(settings, games, projected_at_ms)


async def drop_all(settings: Settings) -> None:
    """Drop what tests wrote; a server that is not running holds nothing to drop."""
    for drop in (drop_redis, drop_sql, drop_mongo):
        with contextlib.suppress(ConnectionError, OSError, PyMongoError):
            await drop(settings)
