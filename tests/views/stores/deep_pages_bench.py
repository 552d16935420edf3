"""How fast the audit log's pages answer, deep and filtered, as the log grows (FerretDB).

    python -m tests.views.stores.deep_pages_bench [EVENTS] [PARTITIONS]

Projects EVENTS synthetic games (default 1,000,000; one in ten on the RabbitMQ route, 1 ms
apart) through the real Mongo sink into a private database of the running stack's FerretDB,
then times pages as the dashboard and a user paging back would ask for them: the first
page, a walk 50 pages of 200 deep, a page from the middle and one from the start (a time
span's end), filtered pages, and a filter nothing matches (each page reads its budget of
chunks and stops short). Beside them, one page
below the lists asked of the collection itself, as lists from before chunks would. Prints
p50/p99 per read, the chunk reads, and FerretDB's resident memory before and after the
reads. The database is dropped at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from squidstream.settings import Settings
from stack import process
from stack.paths import StackPaths
from streams.bench.synthetic import synthetic_event
from streams.projection.decode import Event
from streams.sinks.mongo import MongoProjection
from tests.streams.sinks.scattered import of
from views.errors import StoreUnavailable
from views.stores.mongo_reports import LogCursor, LogFilter, MongoReports

BATCH = 5000
Doc = dict[str, Any]


def events_of(count: int, partitions: int, start_ms: int, seed: int = 1) -> list[Event]:
    rng = random.Random(seed)
    offsets = [0] * partitions
    events = []
    for n in range(count):
        route = "rabbitmq" if rng.random() < 0.1 else "kafka"
        event = synthetic_event(rng, route, start_ms + n)
        partition = rng.randrange(partitions)
        events.append(dataclasses.replace(event, partition=partition, offset=offsets[partition]))
        offsets[partition] += 1
    return events


def ferretdb_rss_mb(settings: Settings) -> float:
    record = process.read_record(StackPaths(settings.data_dir).pid("ferretdb"))
    if record is None:
        return float("nan")
    for line in Path(f"/proc/{record.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def timed(call: Callable[[], Awaitable[object]], times: int) -> str:
    took = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
    return f"p50 {statistics.median(took):7.1f} ms  p99 {p99:7.1f} ms  ({times} calls)"


async def main(count: int, partitions: int) -> None:
    settings = Settings().model_copy(
        update={"mongo_database": f"deep_pages_{uuid.uuid4().hex[:8]}", "events_topic": "deep"}
    )
    client: AsyncMongoClient[Doc] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    projection = MongoProjection(client, settings)
    start_ms = int(time.time() * 1000) - count
    try:
        await projection.reset()
        started = time.perf_counter()
        events = events_of(count, partitions, start_ms)
        for at in range(0, count, BATCH):
            await projection.apply(of(events[at : at + BATCH]))
            print(f"\rprojected {min(at + BATCH, count):,}/{count:,}", end="", flush=True)
        took = time.perf_counter() - started
        print(f"\nprojected {count:,} events in {took:.0f} s ({count / took:,.0f}/s)")
        rare_game = events[0].game_id
        del events

        reports = MongoReports(client, settings.mongo_database, settings.mongo_collection)
        reports_memory = ferretdb_rss_mb(settings)

        async def page(where: LogFilter, after: LogCursor | None = None, size: int = 50) -> Any:
            return await reports.log(where, after, size)

        print(f"first page of 50:            {await timed(lambda: page(LogFilter()), 30)}")
        walk_times, after = [], None
        for _ in range(50):
            began = time.perf_counter()
            shown = await page(LogFilter(), after, 200)
            walk_times.append((time.perf_counter() - began) * 1000)
            after = LogCursor.decode(shown.next)
        walk_times.sort()
        print(
            f"walk of 50 pages of 200:     p50 {statistics.median(walk_times):7.1f} ms  "
            f"max {walk_times[-1]:7.1f} ms  (10,000 entries deep)"
        )
        middle = LogFilter(to_ms=start_ms + count // 2)
        oldest = LogFilter(to_ms=start_ms + 100)
        print(f"page from the middle:        {await timed(lambda: page(middle), 10)}")
        print(f"page from the start:         {await timed(lambda: page(oldest), 10)}")
        game = LogFilter(game_id=rare_game)
        print(f"first page of one game:      {await timed(lambda: page(game), 10)}")
        rabbit = LogFilter(route="rabbitmq", game_id=rare_game)
        print(f"one game on RabbitMQ:        {await timed(lambda: page(rabbit), 10)}")
        deep_rabbit = LogFilter(route="rabbitmq", game_id=rare_game, to_ms=middle.to_ms)
        print(f"the same from the middle:    {await timed(lambda: page(deep_rabbit), 10)}")
        nothing = LogFilter(game_id=rare_game, route="no-such-route")
        print(f"a filter nothing matches:    {await timed(lambda: page(nothing), 10)}")
        print(f"pages answered: {dict(reports.served)}")
        print(
            f"FerretDB resident: {reports_memory:,.0f} MB before the reads, "
            f"{ferretdb_rss_mb(settings):,.0f} MB after"
        )

        # As lists from before chunks would: the same middle page from the collection.
        direct = MongoReports(
            client, settings.mongo_database, settings.mongo_collection, events_topic="none"
        )
        began = time.perf_counter()
        try:
            await direct.log(middle, None, 50)
            outcome = "answered"
        except StoreUnavailable:
            outcome = "stopped at the 3 s limit (503)"
        took_ms = (time.perf_counter() - began) * 1000
        print(f"middle page from the collection: {took_ms:,.0f} ms, {outcome}")
    finally:
        await client.drop_database(settings.mongo_database)
        await projection.close()


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000,
            int(sys.argv[2]) if len(sys.argv) > 2 else 4,
        )
    )
