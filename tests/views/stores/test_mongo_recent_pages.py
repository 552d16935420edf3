"""The audit log on FerretDB: pages from the lists and chunks equal the collection's.

The events are projected through the real sink, with short lists so that walks leave them
for the chunks; `direct` reads the same collection while finding no tracking document, so
every one of its pages is the collection query's answer, and cursors cross between the two.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from squidstream.settings import Settings
from streams.projection.decode import Event
from streams.sinks.mongo import CHUNKS_COLLECTION, TRACKING_COLLECTION, MongoProjection
from tests.streams.sinks.scattered import batches, newest_first, scattered
from tests.views.stores.test_recent_entries import filters
from views.models import AuditPage
from views.stores.mongo_reports import LogCursor, LogFilter, MongoReports

pytestmark = pytest.mark.stack
KEEP = 4


@dataclass
class Log:
    client: AsyncMongoClient[dict[str, Any]]
    settings: Settings
    reports: MongoReports
    direct: MongoReports
    database: AsyncDatabase[dict[str, Any]]
    collection: str

    async def project(
        self, events: Sequence[Event], cuts: Sequence[int] = (), keep: int = KEEP
    ) -> None:
        """A fresh projection of the events through the sink, keeping `keep` per list."""
        projection = MongoProjection(self.client, self.settings, recent_entries=keep)
        await projection.reset()
        for part in batches(events, cuts):
            await projection.apply(part)


@pytest_asyncio.fixture
async def log(stack: Settings) -> AsyncIterator[Log]:
    tag = uuid.uuid4().hex[:10]
    mine = stack.model_copy(update={"mongo_database": f"views_test_{tag}", "events_topic": tag})
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mine.mongo_url, tz_aware=True)
    database, collection = mine.mongo_database, mine.mongo_collection
    try:
        yield Log(
            client,
            mine,
            MongoReports(client, database, collection, events_topic=mine.events_topic),
            MongoReports(client, database, collection, events_topic="no-such-topic"),
            client[database],
            collection,
        )
    finally:
        await client.drop_database(database)
        await client.close()


def shown(page: AuditPage) -> tuple[list[dict[str, Any]], str | None]:
    return [entry.model_dump() for entry in page.entries], page.next


def order(events: Sequence[Event], where: LogFilter) -> list[str]:
    return [
        e.event_id
        for e in newest_first(events)
        if where.admits({**e.game_fields(), "occurred_at_ms": e.occurred_at_ms})
    ]


async def walk(
    readers: Sequence[MongoReports], where: LogFilter, page_size: int, limit: int = 100
) -> list[str]:
    """Every page's event ids in turn, the readers taking turns page by page."""
    seen: list[str] = []
    after: LogCursor | None = None
    for n in range(limit):
        page = await readers[n % len(readers)].log(where, after, page_size)
        seen.extend(entry.event_id for entry in page.entries)
        if page.next is None:
            return seen
        after = LogCursor.decode(page.next)
    raise AssertionError("the walk did not end")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    count=st.integers(0, 30),
    partitions=st.integers(1, 3),
    keep=st.integers(1, 12),
    seed=st.integers(0, 2**32),
    cuts=st.lists(st.integers(1, 29), max_size=4),
    where=filters,
    page_size=st.integers(1, 6),
)
async def test_every_page_equals_the_collection_query_s_and_the_walk_the_sorted_events(
    log: Log,
    count: int,
    partitions: int,
    keep: int,
    seed: int,
    cuts: list[int],
    where: LogFilter,
    page_size: int,
) -> None:
    events = scattered(count, partitions, seed)
    await log.project(events, cuts, keep)

    after: LogCursor | None = None
    seen: list[str] = []
    for _ in range(count + 1):
        page = await log.reports.log(where, after, page_size)
        assert shown(page) == shown(await log.direct.log(where, after, page_size))
        seen.extend(entry.event_id for entry in page.entries)
        if page.next is None:
            break
        after = LogCursor.decode(page.next)
    assert seen == order(events, where)


async def test_a_walk_goes_from_the_lists_into_the_chunks_never_the_collection(log: Log) -> None:
    events = scattered(40, partitions=2, seed=7)
    await log.project(events, [9, 23])
    everything = LogFilter()

    assert await walk([log.reports], everything, 2) == order(events, everything)
    assert log.reports.served["recent"] >= 1
    assert log.reports.served["chunks"] >= 2
    assert log.reports.served["collection"] == 0
    # Cursors of the collection's pages continue on the chunks', and back.
    assert await walk([log.direct, log.reports], everything, 2) == order(events, everything)


async def test_a_walk_of_short_pages_shows_every_entry_once(log: Log) -> None:
    # One chunk read per page: a rare filter's pages stop short, their cursors go on.
    events = scattered(60, partitions=2, seed=19)
    await log.project(events, [9, 23, 40], keep=2)
    frugal = MongoReports(
        log.client, log.settings.mongo_database, log.collection,
        events_topic=log.settings.events_topic, chunk_reads=1,
    )  # fmt: skip
    rare = LogFilter(route="rabbitmq", game_id=newest_first(events)[-1].game_id)

    assert await walk([frugal], rare, 3) == order(events, rare)
    assert await walk([frugal], LogFilter(), 4) == order(events, LogFilter())
    assert frugal.served["collection"] == 0


async def test_lists_from_before_chunks_send_deep_pages_to_the_collection(log: Log) -> None:
    events = scattered(40, partitions=2, seed=20)
    await log.project(events, [9, 23])
    await log.database[TRACKING_COLLECTION].update_many({}, {"$unset": {"chunks": ""}})
    await log.database[CHUNKS_COLLECTION].delete_many({})

    assert await walk([log.reports], LogFilter(), 3) == order(events, LogFilter())
    assert log.reports.served["collection"] >= 1


async def test_a_missing_chunk_sends_the_page_to_the_collection(log: Log) -> None:
    events = scattered(40, partitions=2, seed=21)
    await log.project(events, [9, 23])
    await log.database[CHUNKS_COLLECTION].delete_many({})

    assert await walk([log.reports], LogFilter(), 3) == order(events, LogFilter())
    assert log.reports.served["collection"] >= 1


async def test_the_first_pages_are_answered_without_the_collection(log: Log) -> None:
    events = scattered(30, partitions=2, seed=8)
    await log.project(events)
    # Emptied behind the sink's back: only the tracking documents still show the entries.
    await log.database[log.collection].delete_many({})

    page = await log.reports.log(LogFilter(), None, KEEP)

    assert [e.event_id for e in page.entries] == order(events, LogFilter())[:KEEP]
    assert page.next is not None
    assert dict(log.reports.served) == {"recent": 1}


async def test_a_filtered_page_the_lists_cannot_fill_reads_the_chunks(log: Log) -> None:
    events = scattered(40, partitions=2, seed=9)
    await log.project(events)
    rare = LogFilter(game_id=newest_first(events)[-1].game_id, route="kafka")

    page = await log.reports.log(rare, None, 5)

    assert [e.event_id for e in page.entries] == order(events, rare)[:5]
    assert dict(log.reports.served) == {"chunks": 1}


async def test_a_tracking_document_without_a_list_sends_every_page_to_the_collection(
    log: Log,
) -> None:
    events = scattered(10, partitions=1, seed=10)
    await log.project(events)
    await log.database[TRACKING_COLLECTION].update_many({}, {"$unset": {"recent": ""}})

    page = await log.reports.log(LogFilter(), None, 3)

    assert [e.event_id for e in page.entries] == order(events, LogFilter())[:3]
    assert dict(log.reports.served) == {"collection": 1}
