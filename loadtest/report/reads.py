"""Reads at several data sizes, loaded through the real path, and the replay rate at each.

Events go onto a private topic and a running `squidstream worker` projects them, as in
production. Then the read API's own store adapters answer each report with one request in
flight (latency, not throughput under contention): Redis and SQL for the three result
reports, MongoDB for the audit reports: the log's first page, a page 10,000 entries deep
(reached by paging), the page before the middle of its time span, a filtered page, and the
two totals. Then the worker stops and `squidstream replay` rebuilds every projection from
offset 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from loadtest.processes import ROOT
from loadtest.report.stats import Latency, rate
from squidstream.commands import console_argv
from squidstream.settings import Settings
from streams.bench.synthetic import produce, synthetic_events
from streams.projection.decode import Event
from views.bench import measure
from views.stores.mongo_reports import LogCursor, LogFilter, MongoReports

CHUNK = 20_000  # events generated and sent at a time, so 10^6 never sit in memory at once
# The audit log's "deep page" starts DEEP entries down (half the log, if it holds fewer),
# walked to in pages of WALK_PAGE first, as a user paging back would.
DEEP = 10_000
WALK_PAGE = 200
REPLAYED = re.compile(r"replayed (?P<records>\d+) records .*? in (?P<seconds>[\d.]+)s")


@dataclass(frozen=True, slots=True)
class ReadPoint:
    events: int
    store: str
    report: str
    calls: int
    failed: int
    reports_per_s: float
    latency: Latency | None


@dataclass(frozen=True, slots=True)
class ReplayPoint:
    events: int
    seconds: float
    events_per_s: float


async def load_events(settings: Settings, start: int, stop: int, origin_ms: int) -> None:
    """Put events number start..stop-1 on the topic, half on each route's label, event n
    occurring at origin_ms + n: in log order, as games accepted one after another are (a
    log whose times ran back and forth by more than a chunk would be a different test)."""
    chunks = (_chunk(first, stop, origin_ms) for first in range(start, stop, CHUNK))
    await produce(settings, chunks)


def _chunk(first: int, stop: int, origin_ms: int) -> list[Event]:
    route = "kafka" if (first // CHUNK) % 2 == 0 else "rabbitmq"
    count = min(CHUNK, stop - first)
    return synthetic_events(count, route=route, seed=first, start_ms=origin_ms + first)


async def _timed(
    call: Callable[[], Awaitable[object]], calls: int
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    failed = 0
    started = time.perf_counter()
    for _ in range(calls):
        began = time.perf_counter()
        try:
            await call()
        except Exception:  # a timed-out or failed read counts as failed, the run goes on
            failed += 1
            continue
        latencies.append((time.perf_counter() - began) * 1000)
    return time.perf_counter() - started, latencies, failed


async def result_reads(settings: Settings, events: int, calls: int) -> list[ReadPoint]:
    _, timings = await measure(settings, calls, 1)
    return [
        ReadPoint(
            events=events,
            store=t.store,
            report=t.report,
            calls=t.calls,
            failed=0,
            reports_per_s=round(t.per_second, 1),
            latency=Latency.of(t.latencies_ms),
        )
        for t in timings
    ]


async def audit_reads(settings: Settings, events: int, calls: int) -> list[ReadPoint]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=2000
    )
    reports = MongoReports(
        client,
        settings.mongo_database,
        settings.mongo_collection,
        events_topic=settings.events_topic,
    )
    points = []
    try:
        deep = await _deep_cursor(reports, min(DEEP, events // 2))
        collection = client[settings.mongo_database][settings.mongo_collection]
        middle = await _middle_of_span(reports, collection)
        calls_of: dict[str, Callable[[], Awaitable[object]]] = {
            "audit log, first page": lambda: reports.log(LogFilter(), None, 25),
            "audit log, deep page": lambda: reports.log(LogFilter(), deep, 25),
            "audit log, middle of its span": lambda: reports.log(middle, None, 25),
            "audit log, one game and route": lambda: reports.log(LogFilter(3, "kafka"), None, 25),
            "top 3 games": reports.top_games,
            "inserts per route": reports.inserts_per_route,
        }
        for name, call in calls_of.items():
            seconds, latencies, failed = await _timed(call, calls)
            points.append(
                ReadPoint(
                    events=events,
                    store="mongo",
                    report=name,
                    calls=calls,
                    failed=failed,
                    reports_per_s=round(rate(len(latencies), seconds), 1),
                    latency=Latency.of(latencies),
                )
            )
    finally:
        await client.close()
    return points


async def _deep_cursor(reports: MongoReports, depth: int) -> LogCursor | None:
    """The cursor after the log's newest `depth` entries, walked as a user pages back."""
    after: LogCursor | None = None
    walked = 0
    while walked < depth:
        page = await reports.log(LogFilter(), after, min(WALK_PAGE, depth - walked))
        walked += len(page.entries)
        if page.next is None:
            break
        after = LogCursor.decode(page.next)
    return after


async def _middle_of_span(
    reports: MongoReports, collection: AsyncCollection[dict[str, Any]]
) -> LogFilter:
    """Entries before the middle of the log's time span: between the first document inserted
    (a limit without filter or sort is the one read FerretDB stops early) and the newest."""
    first = await collection.find({}, {"occurred_at_ms": 1}).limit(1).to_list()
    newest = (await reports.log(LogFilter(), None, 1)).entries
    if not first or not newest:
        return LogFilter()
    return LogFilter(to_ms=(int(first[0]["occurred_at_ms"]) + newest[0].occurred_at_ms) // 2)


def parse_replay(output: str, events: int) -> ReplayPoint:
    matched = REPLAYED.search(output)
    if matched is None:
        raise RuntimeError(f"no `replayed ...` line in:\n{output[-2000:]}")
    seconds = float(matched["seconds"])
    return ReplayPoint(events=events, seconds=seconds, events_per_s=round(rate(events, seconds), 1))


def run_replay(settings: Settings, events: int, timeout_s: float) -> ReplayPoint:
    argv = console_argv("replay", "--no-progress")
    done = subprocess.run(
        argv,
        cwd=ROOT,
        env={**os.environ, **settings.as_env()},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"replay exited {done.returncode}:\n{done.stderr[-2000:]}")
    return parse_replay(done.stdout, events)
