"""Connections opened once per app (in its lifespan) and the store adapters built on them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiomysql
import httpx
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from squidstream.settings import Settings
from squidstream.topics import workers_topic
from views.models import ReportStore, StoreCheck
from views.stores.base import ResultReports
from views.stores.faust_tables import FaustTablesReader
from views.stores.mongo_reports import MongoReports
from views.stores.redis_reports import RedisReports
from views.stores.sql_reports import SqlReports
from views.stores.worker_registry import RegistryFollower, WorkerRegistry

CHECK_TIMEOUT_S = 3.0
CLOSE_TIMEOUT_S = 5.0


@dataclass
class Resources:
    """Everything a request handler may read from; one instance per running app."""

    settings: Settings
    redis: aioredis.Redis
    sql_pool: aiomysql.Pool
    mongo: AsyncMongoClient[dict[str, Any]]
    http: httpx.AsyncClient
    redis_reports: RedisReports
    sql_reports: SqlReports
    mongo_reports: MongoReports
    faust: FaustTablesReader
    registry: RegistryFollower

    def reports(self, store: ReportStore) -> ResultReports:
        return self.redis_reports if store is ReportStore.redis else self.sql_reports

    async def checks(self) -> list[StoreCheck]:
        """Ping each store concurrently; a failure is reported with its reason."""
        probes: dict[str, Callable[[], Awaitable[object]]] = {
            "redis": self.redis.ping,
            "sql": self._sql_ping,
            "mongo": lambda: self.mongo.admin.command("ping"),
        }
        return list(await asyncio.gather(*(_probe(n, p) for n, p in probes.items())))

    async def _sql_ping(self) -> None:
        async with self.sql_pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("SELECT 1 FROM game_results LIMIT 1")

    async def close(self) -> None:
        await self.http.aclose()
        await self.redis.aclose()
        await self.mongo.close()
        self.sql_pool.close()
        try:
            # A connection never released (its task was cancelled) would make this wait forever.
            await asyncio.wait_for(self.sql_pool.wait_closed(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self.sql_pool.terminate()


async def _probe(name: str, probe: Callable[[], Awaitable[object]]) -> StoreCheck:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
        error = None
    except Exception as exc:  # any failure means "not ready", reported with its reason
        error = repr(exc)
    latency = (time.perf_counter() - started) * 1000
    return StoreCheck(name=name, ok=error is None, latency_ms=round(latency, 2), error=error)


async def open_resources(settings: Settings) -> Resources:
    """Create clients lazily connected: the app starts even while a store is still down."""
    redis = aioredis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        db=settings.redis_db,
        **settings.redis_connection_options,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=5,
        # Fail fast: a read API answers 503 rather than hold the request for seconds of retries.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
    )
    sql_pool = await aiomysql.create_pool(
        host=settings.sql_host,
        port=settings.sql_port,
        user=settings.sql_user,
        password=settings.sql_password.get_secret_value(),
        db=settings.sql_database,
        ssl=settings.sql_ssl(),
        minsize=0,
        maxsize=10,
        # Autocommit: a pooled connection in a long transaction would keep reading an old snapshot.
        autocommit=True,
        connect_timeout=3,
        pool_recycle=300,
    )
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=2000
    )
    http = httpx.AsyncClient(timeout=httpx.Timeout(2.0))
    registry = WorkerRegistry()
    return Resources(
        settings=settings,
        redis=redis,
        sql_pool=sql_pool,
        mongo=mongo,
        http=http,
        redis_reports=RedisReports(redis, settings.redis_prefix),
        sql_reports=SqlReports(sql_pool),
        mongo_reports=MongoReports(
            mongo,
            settings.mongo_database,
            settings.mongo_collection,
            events_topic=settings.events_topic,
        ),
        faust=FaustTablesReader(
            http, registry, settings.events_partitions, workers_topic(settings)
        ),
        registry=RegistryFollower(settings, registry),
    )
