"""Per-store batched write rates for `squidstream bench streams`, and the bench's clean-up."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import aiomysql
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from streams.projection.batch import Batch, Span
from streams.projection.decode import Event
from streams.projection.project import open_stores
from streams.sinks import Projection


def batches_of(events: Sequence[Event], size: int) -> list[Batch]:
    """Events laid out at offsets 0.. of partition 0, in batches of `size`, all canonical."""
    placed = [replace(e, partition=0, offset=i) for i, e in enumerate(events)]
    batches = []
    for start in range(0, len(placed), size):
        chunk = placed[start : start + size]
        spans = {0: Span(start, start + len(chunk))}
        batches.append(Batch(chunk, [], spans, len(chunk), list(chunk)))
    return batches


async def store_rates(settings: Settings, events: Sequence[Event], batch: int) -> dict[str, float]:
    """Events/s of each store alone, writing `batch`-event batches one after another."""
    projections = (await open_stores(settings)).all
    rates: dict[str, float] = {}
    try:
        for projection in projections:
            rates[projection.name] = await _rate(projection, events, batch)
            await projection.reset()
    finally:
        for projection in projections:
            await projection.close()
    return rates


async def _rate(projection: Projection, events: Sequence[Event], batch: int) -> float:
    batches = batches_of(events, batch)
    started = time.perf_counter()
    for one in batches:
        await projection.apply(one)
    return len(events) / (time.perf_counter() - started)


async def clean_up(settings: Settings, topic_prefix: str) -> None:
    """Delete the bench's topics (events, dead letters, Faust's), databases and keys."""
    projections = (await open_stores(settings)).all
    for projection in projections:
        await projection.reset()
        await projection.close()
    conn = await aiomysql.connect(
        host=settings.sql_host,
        port=settings.sql_port,
        user=settings.sql_user,
        password=settings.sql_password.get_secret_value(),
        autocommit=True,
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{settings.sql_database}`")
    finally:
        conn.close()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        await client.drop_database(settings.mongo_database)
    finally:
        await client.close()
    await delete_topics(settings, topic_prefix)


async def delete_topics(settings: Settings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix`; returns their names."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **kafka_auth(settings))
    await admin.start()
    try:
        doomed = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()
