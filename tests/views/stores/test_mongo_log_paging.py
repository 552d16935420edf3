"""The audit log pages by key on the sink's index, and no audit read counts or groups the log.

The commands each read sends are recorded with PyMongo's command monitoring, so these tests
fail if a read starts to skip, count, aggregate or sort on anything but the keyset index.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient, monitoring

from squidstream.settings import Settings
from streams.sinks.mongo import INDEXES, TRACKING_COLLECTION, MongoProjection
from tests.views.seed import make_games, seed_mongo
from views.stores.mongo_reports import NEWEST_FIRST, LogCursor, LogFilter, MongoReports

pytestmark = pytest.mark.stack

SEEDED = 60
TIED_MS = 1_767_225_600_030  # the occurrence time of seeded game 30, shared by the extras
EXTRAS = [f"tie-{n}" for n in range(5)]


@dataclass
class Recorder(monitoring.CommandListener):
    """Every command sent, as (name, collection, body)."""

    sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        body = dict(event.command)
        self.sent.append((event.command_name, str(body.get(event.command_name, "")), body))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def to(self, collection: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, body) for name, target, body in self.sent if target == collection]


@dataclass
class Log:
    reports: MongoReports
    recorder: Recorder
    collection: str
    # (occurred_at_ms, _id) of every document, newest first.
    order: list[tuple[int, str]]
    routes: dict[str, str]


@pytest_asyncio.fixture
async def log(store_settings: Settings) -> AsyncIterator[Log]:
    games = make_games(SEEDED, seed=5)
    await seed_mongo(store_settings, games, 1_767_300_000_000)
    recorder = Recorder()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        store_settings.mongo_url, tz_aware=True, event_listeners=[recorder]
    )
    collection = client[store_settings.mongo_database][store_settings.mongo_collection]
    # Documents that share one occurrence time: the page order must break the tie by _id.
    await collection.insert_many(
        [
            {
                **(await collection.find_one({"_id": games[30].event_id}) or {}),
                "_id": e,
                "event_id": e,
            }
            for e in EXTRAS
        ]
    )
    # These tests are about the collection's keyset pages: with no newest-entries lists (as in
    # tracking documents older than the lists), every page is a query of the collection. The
    # pages from the lists have their own tests (test_mongo_recent_pages.py).
    tracking = client[store_settings.mongo_database][TRACKING_COLLECTION]
    await tracking.update_many({}, {"$unset": {"recent": ""}})
    order = [(g.occurred_at_ms, g.event_id) for g in games] + [(TIED_MS, e) for e in EXTRAS]
    routes = {g.event_id: g.route for g in games} | dict.fromkeys(EXTRAS, games[30].route)
    recorder.sent.clear()
    reports = MongoReports(
        client,
        store_settings.mongo_database,
        store_settings.mongo_collection,
        events_topic=store_settings.events_topic,
    )
    try:
        yield Log(reports, recorder, store_settings.mongo_collection, sorted(order)[::-1], routes)
    finally:
        await client.close()


async def _walk(log: Log, where: LogFilter, page_size: int) -> list[list[str]]:
    pages: list[list[str]] = []
    after: LogCursor | None = None
    while True:
        page = await log.reports.log(where, after, page_size)
        pages.append([entry.event_id for entry in page.entries])
        if page.next is None:
            return pages
        after = LogCursor.decode(page.next)


async def test_walking_every_page_shows_each_document_once_newest_first_ties_by_id(
    log: Log,
) -> None:
    pages = await _walk(log, LogFilter(), page_size=7)

    assert [event_id for page in pages for event_id in page] == [e for _, e in log.order]
    assert [len(page) for page in pages[:-1]] == [7] * (len(pages) - 1)


async def test_a_filtered_walk_shows_exactly_the_matching_documents_in_order(log: Log) -> None:
    where = LogFilter(route="kafka", from_ms=TIED_MS - 20, to_ms=TIED_MS + 1)

    pages = await _walk(log, where, page_size=4)

    expected = [
        e for ms, e in log.order if log.routes[e] == "kafka" and TIED_MS - 20 <= ms <= TIED_MS
    ]
    assert [event_id for page in pages for event_id in page] == expected


async def test_a_page_is_one_keyed_find_on_the_index_order_without_skip_or_count(
    log: Log,
) -> None:
    first = await log.reports.log(LogFilter(), None, 10)
    assert first.next is not None
    log.recorder.sent.clear()

    await log.reports.log(LogFilter(), LogCursor.decode(first.next), 10)

    ((name, body),) = log.recorder.to(log.collection)
    assert name == "find"
    assert list(body["sort"].items()) == NEWEST_FIRST
    assert body["limit"] == 11  # one more than the page says whether another page exists
    assert "skip" not in body
    assert body["filter"] == LogCursor.decode(first.next).after()


async def test_identical_pages_asked_at_once_share_one_query(log: Log) -> None:
    kafka = LogFilter(route="kafka")

    pages = await asyncio.gather(
        *(log.reports.log(LogFilter(), None, 5) for _ in range(4)),
        log.reports.log(kafka, None, 5),
    )

    assert len([name for name, _ in log.recorder.to(log.collection)]) == 2  # all, kafka
    assert len({tuple(e.event_id for e in page.entries) for page in pages[:4]}) == 1
    assert [e.event_id for e in pages[0].entries] == [e for _, e in log.order[:5]]


async def test_a_page_asked_after_the_last_one_ended_queries_again(log: Log) -> None:
    await log.reports.log(LogFilter(), None, 5)
    await log.reports.log(LogFilter(), None, 5)

    assert len(log.recorder.to(log.collection)) == 2  # shared while in flight, never cached


async def test_the_totals_reports_read_only_the_tracking_documents(log: Log) -> None:
    await log.reports.top_games()
    await log.reports.inserts_per_route()
    await log.reports.events()

    assert log.recorder.to(log.collection) == []
    assert {name for name, target, _ in log.recorder.sent} == {"find"}


def test_the_sink_declares_the_index_the_log_pages_by() -> None:
    assert [keys for _, keys in INDEXES].count(NEWEST_FIRST) == 1


async def test_the_sink_creates_that_index_on_the_server(store_settings: Settings) -> None:
    projection = await MongoProjection.open(store_settings)
    await projection.close()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(store_settings.mongo_url)
    try:
        collection = client[store_settings.mongo_database][store_settings.mongo_collection]
        indexes = await collection.index_information()
    finally:
        await client.close()

    keys = [[(k, int(d)) for k, d in info["key"]] for info in indexes.values()]
    assert [list(k) for k in NEWEST_FIRST] in [[list(k) for k in key] for key in keys]
