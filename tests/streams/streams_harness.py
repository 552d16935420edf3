"""Helpers for the end-to-end tests: isolated settings, worker processes, producers, store reads."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aio_pika
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from squidstream.launcher import Launched
from squidstream.settings import Settings
from streams.bench.drain import start_worker
from streams.projection.decode import Event, encode
from streams.projection.fold import fold
from streams.sinks.mongo import TRACKING_COLLECTION
from tests.helpers import isolated_settings, sql_connect, worker_pages

STOP_GRACE_S = 60.0


def isolated(stack: Settings, name: str) -> Settings:
    """Settings with a private topic, queue, group, prefix and databases."""
    return isolated_settings(stack, f"t{name}")


@contextmanager
def worker(settings: Settings, log_dir: Path, name: str = "w") -> Iterator[Launched]:
    """A worker subprocess, stopped (or killed) on exit."""
    process = start_worker(settings, log_dir / f"{name}-{settings.faust_web_port}.log")
    try:
        yield process
    finally:
        stop(process)


def stop(process: Launched, sig: int = signal.SIGTERM) -> None:
    """Send `sig` to the worker's group; SIGKILL it if it still runs a minute later."""
    process.stop(STOP_GRACE_S, sig)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """A Prometheus page as {(sample name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def produce(settings: Settings, events: Sequence[Event], raw: Sequence[bytes] = ()) -> None:
    """Kafka route: key = event id, value = GameEvent bytes; `raw` values go keyless."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(settings.events_topic, encode(e), key=e.event_id.encode())
            for e in events
        ]
        futures += [await producer.send(settings.events_topic, value) for value in raw]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def publish(settings: Settings, events: Sequence[Event], raw: Sequence[bytes] = ()) -> None:
    """RabbitMQ route: the gateway's wire convention, persistent and confirmed."""
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(settings.rabbitmq_queue, durable=True)
        bodies = [(encode(e), e.event_id) for e in events] + [(value, "bad") for value in raw]
        for body, message_id in bodies:
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id,
                    content_type="application/x-protobuf",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=settings.rabbitmq_queue,
            )


@dataclass
class Reports:
    """What the stores say; two Reports are equal when every report reads the same."""

    sql_rows: int = 0
    mongo_docs: int = 0
    sql: dict[str, dict[str, int]] = field(default_factory=dict)
    redis: dict[str, dict[str, int]] = field(default_factory=dict)
    mongo_routes: dict[str, int] = field(default_factory=dict)
    mongo_totals: dict[str, dict[str, int]] = field(default_factory=dict)
    redis_last: list[str] = field(default_factory=list)
    # Summed over the workers' /squid/tables/ pages; None when no worker answered.
    tables: dict[str, dict[str, int]] | None = None
    tables_wanted: bool = field(default=False, compare=False)

    def settled(self, total: int) -> bool:
        wins = sum(self.redis.get("wins", {}).values())
        table_wins = sum((self.tables or {}).get("wins", {}).values())
        tables_done = table_wins == total if self.tables_wanted else True
        return self.sql_rows == self.mongo_docs == wins == total and tables_done


def expected(events: Sequence[Event]) -> dict[str, dict[str, int]]:
    """The aggregates a flood of distinct events must produce (the pure fold)."""
    deltas = fold(events)

    def strs(counter: Counter[Any]) -> dict[str, int]:
        return {str(key): value for key, value in counter.items()}

    return {
        "wins": strs(deltas.wins),
        "sizes": strs(deltas.sizes),
        "games": strs(deltas.games),
        "routes": strs(deltas.routes),
    }


TABLE_NAMES = {
    "player_wins": "wins",
    "game_sizes": "sizes",
    "game_counts": "games",
    "route_counts": "routes",
}


async def read_reports(settings: Settings, workers: Sequence[Settings] | None = None) -> Reports:
    """Every store's reports; the tables from `workers` (default: the worker of `settings`)."""
    reports = Reports()
    await _read_sql(settings, reports)
    await _read_redis(settings, reports)
    await _read_mongo(settings, reports)
    workers = [settings] if workers is None else workers
    reports.tables_wanted = bool(workers)
    await _read_tables(workers, reports)
    return reports


async def _read_tables(workers: Sequence[Settings], reports: Reports) -> None:
    totals: dict[str, Counter[str]] = {name: Counter() for name in TABLE_NAMES.values()}
    pages = await worker_pages(workers)
    answered = bool(pages)
    for body in pages:
        for table, name in TABLE_NAMES.items():
            totals[name].update(body.get(table, {}))
    if answered:
        reports.tables = {name: dict(counts) for name, counts in totals.items()}


async def _read_sql(settings: Settings, reports: Reports) -> None:
    queries = {
        "wins": "SELECT player, wins FROM player_wins",
        "sizes": "SELECT players, games FROM game_size_counts",
        "games": "SELECT game_id, games FROM game_counts",
        "routes": "SELECT route, games FROM route_counts",
    }
    try:
        conn = await sql_connect(settings)
    except Exception:  # the worker has not created the database yet
        return
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT COUNT(*) FROM game_results")
            reports.sql_rows = int((await cur.fetchone())[0])
            for name, query in queries.items():
                await cur.execute(query)
                reports.sql[name] = {str(k): int(v) for k, v in await cur.fetchall()}
    except Exception:  # tables not migrated yet
        pass
    finally:
        conn.close()


async def _read_redis(settings: Settings, reports: Reports) -> None:
    client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    prefix = settings.redis_prefix
    try:
        wins = cast(
            list[tuple[str, float]], await client.zrange(f"{prefix}:wins", 0, -1, withscores=True)
        )
        reports.redis["wins"] = {str(m): int(s) for m, s in wins}
        for name in ("sizes", "games", "routes"):
            found = cast(dict[str, str], await client.hgetall(f"{prefix}:{name}"))
            reports.redis[name] = {k: int(v) for k, v in found.items()}
        last = await client.lrange(f"{prefix}:last", 0, -1)
        reports.redis_last = [json.loads(item)["event_id"] for item in last]
    finally:
        await client.aclose()


async def _read_mongo(settings: Settings, reports: Reports) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        collection = client[settings.mongo_database][settings.mongo_collection]
        reports.mongo_docs = await collection.count_documents({})
        pipeline = [{"$group": {"_id": "$route", "n": {"$sum": 1}}}]
        cursor = await collection.aggregate(pipeline)
        reports.mongo_routes = {doc["_id"]: int(doc["n"]) async for doc in cursor}
        tracking = client[settings.mongo_database][TRACKING_COLLECTION]
        totals: dict[str, Counter[str]] = {"games": Counter(), "routes": Counter()}
        async for doc in tracking.find({"topic": settings.events_topic}):
            for name, counts in totals.items():
                counts.update({str(k): int(v) for k, v in doc.get(name, {}).items()})
        reports.mongo_totals = {name: dict(counts) for name, counts in totals.items()}
    finally:
        await client.close()


async def wait_for_reports(
    settings: Settings,
    total: int,
    timeout_s: float = 120,
    workers: Sequence[Settings] | None = None,
) -> Reports:
    """Poll the stores (and tables) until all hold `total` events (or time runs out)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        reports = await read_reports(settings, workers)
        if reports.settled(total) or asyncio.get_running_loop().time() > deadline:
            return reports
        await asyncio.sleep(0.5)


def assert_exactly_once(reports: Reports, events: Sequence[Event], tables: bool = True) -> None:
    """The invariants: every store and table holds each event once; all equal the pure fold."""
    want = expected(events)
    assert reports.sql_rows == len(events)
    assert reports.mongo_docs == len(events)
    assert reports.sql == want
    assert reports.redis == want
    assert reports.mongo_routes == want["routes"]
    assert reports.mongo_totals == {"games": want["games"], "routes": want["routes"]}
    if tables:
        assert reports.tables == want, "the Faust tables differ from the stores"


async def drop_stores(settings: Settings) -> None:
    """Best-effort clean-up of one test's SQL database, Mongo database and Redis keys."""
    from streams.projection.project import close_stores, open_stores

    stores = (await open_stores(settings)).all
    for store in stores:
        await store.reset()
    await close_stores(stores)
    conn = await sql_connect(settings, database=False)
    async with conn.cursor() as cur:
        await cur.execute(f"DROP DATABASE IF EXISTS `{settings.sql_database}`")
    conn.close()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    await client.drop_database(settings.mongo_database)
    await client.close()
