"""The whole pipeline as users run it: HTTP ingress -> both gateways -> Kafka and RabbitMQ ->
a Faust worker -> SQL, Redis and MongoDB, checked against the invariants of
docs/architecture.md section 2.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import aiomysql
import httpx
import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from squidshell.run import pipeline, running
from squidstream.settings import Settings
from tests.helpers import free_port, isolated_settings

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.sql]

REQUESTS = 600
RETRIES = 60
CONVERGE_TIMEOUT_S = 120.0


def _isolated(stack: Settings) -> tuple[Settings, dict[str, str]]:
    """Private topic, queue, group, prefix, databases and ports, as SQUID_* variables too."""
    ports = {
        "gateway_kafka_port": free_port(),
        "gateway_rabbitmq_port": free_port(),
        "ingress_port": free_port(),
    }
    settings = isolated_settings(stack, "e2e").model_copy(update=ports)
    return settings, settings.as_env()


async def _flood(settings: Settings) -> tuple[Counter[str], list[dict[str, Any]]]:
    """REQUESTS distinct games, then RETRIES retried request ids; accepted count per route."""
    url = f"http://{settings.ingress_host}:{settings.ingress_port}/api/games"
    limit = asyncio.Semaphore(40)
    async with httpx.AsyncClient(timeout=30) as client:

        async def play(index: int) -> dict[str, Any]:
            body = {"game_id": index % 5 + 1, "players": 4 + index % 97, "request_id": f"r{index}"}
            async with limit:
                response = await client.post(url, json=body)
            assert response.status_code in (200, 201), response.text
            event: dict[str, Any] = response.json()
            return event

        events = await asyncio.gather(*(play(i) for i in range(REQUESTS)))
        retried = await asyncio.gather(*(play(i) for i in range(RETRIES)))
    for first, again in zip(events, retried, strict=False):
        assert (again["event_id"], again["winner"]) == (first["event_id"], first["winner"])
    return Counter(event["route"] for event in events), events


async def _sql_counts(settings: Settings) -> tuple[int, int, dict[str, int]]:
    conn = await aiomysql.connect(
        host=settings.sql_host, port=settings.sql_port, user=settings.sql_user,
        password=settings.sql_password.get_secret_value(), db=settings.sql_database,
    )  # fmt: skip
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT COUNT(*) FROM game_results")
            (rows,) = await cur.fetchone()
            await cur.execute("SELECT COALESCE(SUM(wins), 0) FROM player_wins")
            (wins,) = await cur.fetchone()
            await cur.execute("SELECT route, games FROM route_counts")
            routes = {route: int(games) for route, games in await cur.fetchall()}
    finally:
        conn.close()
    return int(rows), int(wins), routes


async def _redis_counts(settings: Settings) -> tuple[int, dict[str, int], int]:
    client = aioredis.from_url(settings.redis_url, decode_responses=True)
    try:
        wins = cast(
            list[tuple[str, float]],
            await client.zrange(f"{settings.redis_prefix}:wins", 0, -1, withscores=True),
        )
        routes = cast(dict[str, str], await client.hgetall(f"{settings.redis_prefix}:routes"))
        games = cast(dict[str, str], await client.hgetall(f"{settings.redis_prefix}:games"))
    finally:
        await client.aclose()
    total_games = sum(int(v) for v in games.values())
    return int(sum(score for _, score in wins)), {k: int(v) for k, v in routes.items()}, total_games


async def _mongo_count(settings: Settings) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        collection = client[settings.mongo_database][settings.mongo_collection]
        return await collection.count_documents({})
    finally:
        await client.close()


async def _wait_for_sql_rows(settings: Settings, expected: int) -> None:
    deadline = time.monotonic() + CONVERGE_TIMEOUT_S
    rows = -1
    while time.monotonic() < deadline:
        try:
            rows, _, _ = await _sql_counts(settings)
        except aiomysql.Error:
            rows = -1  # the worker has not created the schema yet
        if rows >= expected:
            await asyncio.sleep(1.0)  # let a straggling duplicate show itself if there is one
            return
        await asyncio.sleep(0.5)
    pytest.fail(f"SQL has {rows} rows after {CONVERGE_TIMEOUT_S:.0f}s, expected {expected}")


@pytest.mark.asyncio
async def test_a_flood_through_both_routes_is_projected_exactly_once_everywhere(
    stack: Settings, tmp_path: Path
) -> None:
    settings, env = _isolated(stack)
    children = pipeline(settings, workers=1, weights=(50, 50), env=env, with_views=False)
    with running(children, tmp_path):
        accepted, _ = await _flood(settings)
        await _wait_for_sql_rows(settings, REQUESTS)
        sql_rows, sql_wins, sql_routes = await _sql_counts(settings)
        redis_wins, redis_routes, redis_games = await _redis_counts(settings)
        mongo_docs = await _mongo_count(settings)

    assert set(accepted) == {"kafka", "rabbitmq"}, accepted
    assert sum(accepted.values()) == REQUESTS
    assert (sql_rows, sql_wins, mongo_docs) == (REQUESTS, REQUESTS, REQUESTS)
    assert (redis_wins, redis_games) == (REQUESTS, REQUESTS)
    assert sql_routes == dict(accepted)
    assert redis_routes == dict(accepted)
