"""The MongoDB audit log: one document per event, plus per-partition tracking and totals.

MongoDB (and FerretDB, which has no transactions) writes one document atomically, not a
batch, so the order makes it exact: insert the audit documents (`_id` = event id, so a
repeat is a duplicate key and changes nothing), then advance the partition's tracking
document with a compare-and-set on its `next_offset`, adding the batch's totals in that same
single-document update. A crash between the two re-delivers the batch: the inserts are
duplicates and the totals are added once, by the one update whose offset still matches.
The totals (events, games per game id, inserts per route) serve the audit reports without
counting or grouping the collection.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import BulkWriteError

from squidstream.settings import Settings
from streams.batch import Batch
from streams.decode import Event
from streams.errors import SinkError, StoreBehind
from streams.sinks.errors import from_mongo, only_duplicates

TRACKING_COLLECTION = "projection_tracking"
INDEXES: tuple[tuple[str, list[tuple[str, int]]], ...] = (
    ("idx_occurred_at_ms", [("occurred_at_ms", ASCENDING)]),
    ("idx_game_id", [("game_id", ASCENDING)]),
    ("idx_route", [("route", ASCENDING)]),
    # Keyset paging of the log, newest first.
    ("idx_log_page", [("occurred_at_ms", DESCENDING), ("_id", DESCENDING)]),
)


def document(event: Event, projected_at: datetime) -> dict[str, Any]:
    """The audit document of one event."""
    return {
        "_id": event.event_id,
        **event.game_fields(),
        "occurred_at": datetime.fromtimestamp(event.occurred_at_ms / 1000, tz=UTC),
        "projected_at": projected_at,
        "kafka_partition": event.partition,
        "kafka_offset": event.offset,
    }


def totals_update(events: Sequence[Event]) -> dict[str, int]:
    """The `$inc` of a batch's events: events, games.<id>, routes.<route>."""
    counts: Counter[str] = Counter()
    for event in events:
        counts["events"] += 1
        counts[f"games.{event.game_id}"] += 1
        counts[f"routes.{event.route}"] += 1
    return dict(counts)


class MongoProjection:
    """The audit log collection, its indexes, and the tracking documents."""

    name = "mongo"

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], settings: Settings) -> None:
        self._client = client
        self._db = client[settings.mongo_database]
        self._collection = self._db[settings.mongo_collection]
        self._tracking = self._db[TRACKING_COLLECTION]
        self._topic = settings.events_topic
        self._timeout_s = settings.store_timeout_s

    @classmethod
    async def open(cls, settings: Settings) -> MongoProjection:
        timeout_ms = int(settings.store_timeout_s * 1000)
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongo_url,
            tz_aware=True,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms,
        )
        projection = cls(client, settings)
        try:
            await projection.create_indexes()
        except SinkError:
            await client.close()
            raise
        return projection

    async def _call(self, what: str, call: Any) -> Any:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call
        except BulkWriteError as exc:
            if only_duplicates(exc):
                return None
            raise from_mongo(exc, what) from exc
        except BaseException as exc:
            error = from_mongo(exc, what)
            if error is exc:
                raise
            raise error from exc

    async def create_indexes(self) -> None:
        for name, keys in INDEXES:
            await self._call("Mongo indexes", self._collection.create_index(keys, name=name))

    async def apply(self, batch: Batch) -> None:
        applied = await self._applied(batch.spans)
        for partition, span in batch.spans.items():
            if applied.get(partition, 0) < span.first:
                raise StoreBehind(self.name, partition, applied.get(partition, 0), span.first)
        fresh = [e for e in batch.canonical if e.offset >= applied.get(e.partition, 0)]
        now = datetime.now(UTC)
        if fresh:
            docs = [document(event, now) for event in fresh]
            await self._call(
                f"Mongo batch of {len(docs)}", self._collection.insert_many(docs, ordered=False)
            )
        for partition, span in sorted(batch.spans.items()):
            events = [e for e in fresh if e.partition == partition]
            await self._advance(partition, applied.get(partition), span.next, events, now)

    async def _applied(self, partitions: Any) -> dict[int, int]:
        ids = [self._doc_id(p) for p in partitions]
        cursor = self._tracking.find({"_id": {"$in": ids}}, {"partition": 1, "next_offset": 1})
        docs = await self._call("Mongo tracking", cursor.to_list(None))
        return {int(doc["partition"]): int(doc["next_offset"]) for doc in docs}

    async def _advance(
        self,
        partition: int,
        applied: int | None,
        next_offset: int,
        events: Sequence[Event],
        now: datetime,
    ) -> None:
        """Compare-and-set the tracking document; a lost race is retried from the top."""
        doc_id = self._doc_id(partition)
        what = f"Mongo tracking of partition {partition}"
        if applied is None:
            doc: dict[str, Any] = {
                "_id": doc_id,
                "topic": self._topic,
                "partition": partition,
                "next_offset": next_offset,
                "projected_at": now,
                "events": 0,
                "games": {},
                "routes": {},
            }
            for path, n in totals_update(events).items():
                head, _, tail = path.partition(".")
                if tail:
                    doc[head][tail] = n
                else:
                    doc[head] = n
            # A duplicate key here means another writer created it first: a SinkError, retried.
            await self._call(what, self._tracking.insert_one(doc))
            return
        if next_offset <= applied:
            return
        update: dict[str, Any] = {"$set": {"next_offset": next_offset, "projected_at": now}}
        if events:
            update["$inc"] = totals_update(events)
        result = await self._call(
            what, self._tracking.update_one({"_id": doc_id, "next_offset": applied}, update)
        )
        if result.matched_count != 1:
            raise SinkError(f"{what}: moved by another writer; retrying")

    def _doc_id(self, partition: int) -> str:
        return f"{self._topic}:{partition}"

    async def positions(self) -> dict[int, int]:
        cursor = self._tracking.find({"topic": self._topic}, {"partition": 1, "next_offset": 1})
        docs = await self._call("Mongo tracking", cursor.to_list(None))
        return {int(doc["partition"]): int(doc["next_offset"]) for doc in docs}

    async def reset(self) -> None:
        await self._call("Mongo reset", self._collection.drop())
        await self._call("Mongo reset", self._tracking.delete_many({"topic": self._topic}))
        await self.create_indexes()

    async def close(self) -> None:
        await self._client.close()
