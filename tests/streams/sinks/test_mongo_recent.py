"""Each Mongo tracking document keeps its partition's newest entries, exactly, against FerretDB.

The list and its chunks ride on the tracking document's compare-and-set, so these tests hold
them to the invariants the log reader relies on, whatever the batches' order, overlaps,
re-deliveries and crashes: the list starts with the partition's R greatest entries by
(occurred_at_ms, event id), and the list with the chunks it lists holds every entry once.
"""

from __future__ import annotations

import typing
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from squidstream.settings import Settings
from streams.errors import SinkError
from streams.projection.decode import Event
from streams.sinks.mongo import CHUNKS_COLLECTION, TRACKING_COLLECTION, MongoProjection, document
from streams.sinks.recent_list import (
    RECENT_ENTRIES,
    decode_chunks,
    decode_recent,
    epoch_ms,
    newest,
)
from tests.streams.sinks.scattered import batches, newest_first, of, scattered
from views.routes.audit import audit_log

KEEP = 5
Doc = dict[str, Any]


class Store(typing.NamedTuple):
    projection: MongoProjection
    collection: AsyncCollection[Doc]
    tracking: AsyncCollection[Doc]
    chunks: AsyncCollection[Doc]
    topic: str


@pytest.fixture
async def store(stack: Settings) -> AsyncIterator[Store]:
    settings = stack.model_copy(
        update={
            "mongo_database": f"squid_t_{uuid.uuid4().hex[:10]}",
            "events_topic": f"t{uuid.uuid4().hex[:10]}",
        }
    )
    client: AsyncMongoClient[Doc] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    projection = MongoProjection(client, settings, recent_entries=KEEP)
    await projection.create_indexes()
    db = client[settings.mongo_database]
    try:
        yield Store(
            projection,
            db[settings.mongo_collection],
            db[TRACKING_COLLECTION],
            db[CHUNKS_COLLECTION],
            settings.events_topic,
        )
    finally:
        await client.drop_database(settings.mongo_database)
        await projection.close()


async def listed(store: Store) -> dict[int, list[Doc]]:
    """Each partition's `recent` entries, as stored."""
    docs = await store.tracking.find({}).to_list()
    return {int(doc["partition"]): decode_recent(doc["recent"]) for doc in docs}


async def held(store: Store) -> dict[int, list[str]]:
    """Each partition's event ids in its list and the chunks its directory lists, sorted."""
    found: dict[int, list[str]] = {}
    for doc in await store.tracking.find({}).to_list():
        mine = ids(decode_recent(doc["recent"]))
        for chunk in decode_chunks(doc["chunks"]):
            sealed = await store.chunks.find_one({"_id": chunk.chunk_id})
            assert sealed is not None
            rows = decode_recent(sealed["rows"])
            assert len(rows) == chunk.rows
            keys = [(row["occurred_at_ms"], row["event_id"]) for row in rows]
            assert (keys[0], keys[-1]) == (chunk.high, chunk.low)
            mine.extend(ids(rows))
        found[int(doc["partition"])] = sorted(mine)
    return found


def each_once(events: Sequence[Event]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for event in events:
        found.setdefault(event.partition, []).append(event.event_id)
    return {partition: sorted(mine) for partition, mine in found.items()}


def ids(entries: Sequence[Doc]) -> list[str]:
    return [str(entry["event_id"]) for entry in entries]


def top(events: Sequence[Event], partition: int, keep: int = KEEP) -> list[str]:
    return [e.event_id for e in newest_first([e for e in events if e.partition == partition])][
        :keep
    ]


@pytest.mark.stack
async def test_the_list_keeps_the_newest_entries_by_time_not_by_offset(store: Store) -> None:
    events = scattered(30, partitions=1, seed=11)
    assert [e.event_id for e in events] != [e.event_id for e in newest_first(events)]

    for part in batches(events, [7, 8, 20]):
        await store.projection.apply(part)

    (entries,) = (await listed(store)).values()
    assert ids(entries)[:KEEP] == top(events, 0)
    keys = [(entry["occurred_at_ms"], entry["event_id"]) for entry in entries]
    assert keys == sorted(keys, reverse=True)


@pytest.mark.stack
async def test_an_entry_shows_what_its_audit_document_shows(store: Store) -> None:
    events = scattered(3, partitions=1, seed=12)
    await store.projection.apply(of(events))

    (entries,) = (await listed(store)).values()
    for entry in entries:
        doc = await store.collection.find_one({"_id": entry["event_id"]})
        assert doc is not None
        shown = {k: v for k, v in doc.items() if k not in ("_id", "occurred_at", "projected_at")}
        assert entry == {**shown, "projected_at_ms": epoch_ms(doc["projected_at"])}


@pytest.mark.stack
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_late_events_keep_every_partition_s_list_its_newest_entries(
    store: Store, seed: int
) -> None:
    events = scattered(60, partitions=3, seed=seed, spread_ms=25)

    parts = batches(events, [5, 6, 17, 30, 31, 44])
    for n, part in enumerate(parts, start=1):
        await store.projection.apply(part)
        applied = [e for done in parts[:n] for e in done.events]
        for partition, entries in (await listed(store)).items():
            assert ids(entries)[:KEEP] == top(applied, partition)
        assert await held(store) == each_once(applied)


@pytest.mark.stack
async def test_a_redelivered_batch_leaves_the_lists_unchanged(store: Store) -> None:
    events = scattered(40, partitions=2, seed=13)
    parts = batches(events, [10, 25])
    for part in parts:
        await store.projection.apply(part)
    before = {doc["_id"]: doc["recent"] async for doc in store.tracking.find({})}

    for part in [*parts, of(events[5:30])]:  # each again, and one overlapping two
        await store.projection.apply(part)

    assert {doc["_id"]: doc["recent"] async for doc in store.tracking.find({})} == before


@pytest.mark.stack
async def test_a_crash_between_the_inserts_and_the_update_lists_each_entry_once(
    store: Store,
) -> None:
    events = scattered(20, partitions=1, seed=14)
    await store.projection.apply(of(events[:8]))
    # A worker died after inserting the next batch's documents, before its tracking update.
    await store.collection.insert_many([document(e, datetime.now(UTC)) for e in events[8:]])

    await store.projection.apply(of(events[8:]))

    (entries,) = (await listed(store)).values()
    assert ids(entries)[:KEEP] == top(events, 0)
    assert await held(store) == each_once(events)


class FailsOnce:
    """A collection whose first update fails: a worker that died after writing a chunk,
    before the tracking update that lists it."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        self.collection, self.failed = collection, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise SinkError("the worker died here")
        return await self.collection.update_one(*args, **kwargs)


@pytest.mark.stack
async def test_a_crash_after_sealing_a_chunk_lists_each_entry_once(store: Store) -> None:
    events = scattered(40, partitions=1, seed=18)
    await store.projection.apply(of(events[:8]))
    store.projection._tracking = FailsOnce(store.tracking)  # type: ignore[assignment]
    with pytest.raises(SinkError):
        await store.projection.apply(of(events[8:30]))  # seals a chunk, then fails
    assert await store.chunks.count_documents({}) == 1

    await store.projection.apply(of(events[8:30]))
    await store.projection.apply(of(events[30:]))

    assert await held(store) == each_once(events)  # the unlisted chunk is never read
    assert await store.chunks.count_documents({}) > 1


@pytest.mark.stack
async def test_a_list_another_writer_moved_on_is_read_again(store: Store, stack: Settings) -> None:
    # Two workers take turns on the partitions (a rebalance): each sink holds the list it
    # wrote last, and must not build on it once the other one has written a newer list.
    settings = stack.model_copy(
        update={"mongo_database": store.collection.database.name, "events_topic": store.topic}
    )
    client: AsyncMongoClient[Doc] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
    other = MongoProjection(client, settings, recent_entries=KEEP)
    events = scattered(45, partitions=2, seed=17, spread_ms=25)
    try:
        for n, part in enumerate(batches(events, [9, 20, 28, 37])):
            await (store.projection if n % 2 == 0 else other).apply(part)
    finally:
        await other.close()

    for partition, entries in (await listed(store)).items():
        assert ids(entries)[:KEEP] == top(events, partition)
    assert await held(store) == each_once(events)


@pytest.mark.stack
async def test_reset_removes_the_lists_with_the_tracking_documents(store: Store) -> None:
    events = scattered(20, partitions=2, seed=15)
    await store.projection.apply(of(events[:10]))

    await store.projection.reset()
    assert await listed(store) == {}
    assert await store.chunks.count_documents({}) == 0
    replayed = scattered(12, partitions=2, seed=25)  # the log read again from offset 0
    await store.projection.apply(of(replayed))

    for partition, entries in (await listed(store)).items():
        assert ids(entries)[:KEEP] == top(replayed, partition)
    assert await held(store) == each_once(replayed)


@pytest.mark.stack
async def test_a_tracking_document_from_before_the_lists_is_left_without_one(
    store: Store,
) -> None:
    # Its partition's older entries are not in any list, so none is started.
    await store.tracking.insert_one(
        {
            "_id": f"{store.topic}:0",
            "topic": store.topic,
            "partition": 0,
            "next_offset": 0,
            "events": 0,
            "games": {},
            "routes": {},
        }
    )
    events = scattered(6, partitions=1, seed=16)

    await store.projection.apply(of(events))

    (doc,) = await store.tracking.find({}).to_list()
    assert (doc["next_offset"], doc["events"], "recent" in doc) == (6, 6, False)


def test_merging_keeps_each_event_id_once() -> None:
    entries = [{"event_id": "a", "occurred_at_ms": 2}, {"event_id": "b", "occurred_at_ms": 1}]

    assert newest([*entries, entries[0]], keep=3) == entries


def test_a_list_holds_more_than_the_largest_page_and_the_entry_past_it() -> None:
    page_size = typing.get_type_hints(audit_log, include_extras=True)["page_size"]
    (query,) = page_size.__metadata__
    (largest,) = [rule.le for rule in query.metadata if hasattr(rule, "le")]

    assert largest < RECENT_ENTRIES
