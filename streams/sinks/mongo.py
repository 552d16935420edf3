"""The MongoDB audit log: one document per event, plus per-partition tracking and totals.

MongoDB (and FerretDB, which has no transactions) writes one document atomically, not a
batch, so the order makes it exact: insert the audit documents (`_id` = event id, so a
repeat is a duplicate key and changes nothing), then advance the partition's tracking
document with a compare-and-set on its `next_offset`, adding the batch's totals in that same
single-document update. A crash between the two re-delivers the batch: the inserts are
duplicates and the totals are added once, by the one update whose offset still matches.
The totals (events, games per game id, inserts per route) serve the audit reports without
counting or grouping the collection.

The same update sets `recent`: the partition's newest `RECENT_ENTRIES` entries by the log's
order (occurred_at_ms desc, event id desc), not by offset, since an event routed through
RabbitMQ can arrive after newer ones. The batch's fresh canonical events are merged into the
list read at the start of the batch, so it holds every entry of the partition when it is not
full, and when full every entry whose key is above its lowest. The views serve the log's
first pages from these few documents: FerretDB answers no sorted page from an index
(views/stores/mongo_reports.py). The list is one JSON string, `{"fields": [...], "rows":
[[...], ...]}`: FerretDB converts every nested value, and 4 documents of 200 subdocuments
took 200 ms to read where the same rows as one string took 7 ms. A tracking document
written before `recent` existed is left without one (the views then read the collection)
until a replay rebuilds it, since its list would lack the older entries.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import BulkWriteError

from squidstream.contract import EVENT_FIELDS
from squidstream.settings import Settings
from streams.errors import SinkError, StoreBehind
from streams.projection.batch import Batch
from streams.projection.decode import Event
from streams.sinks.errors import bounded, closed_on_failure, from_mongo, only_duplicates

TRACKING_COLLECTION = "projection_tracking"
# Entries kept per partition: above the largest page (200, views/routes/audit.py) plus the one
# that tells whether a next page exists, and a few pages deep for a filtered page.
RECENT_ENTRIES = 500
# What an AuditEntry shows (views/models.py), in the order of each row of `recent`.
RECENT_FIELDS = (*EVENT_FIELDS, "projected_at_ms", "kafka_partition", "kafka_offset")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Entry = dict[str, Any]
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


def epoch_ms(at: datetime) -> int:
    """Whole milliseconds since the epoch, truncated as BSON stores a datetime."""
    return (at - EPOCH) // timedelta(milliseconds=1)


def recent_entry(event: Event, projected_at: datetime) -> Entry:
    """The fields of one `recent` row, by name."""
    return {
        **event.game_fields(),
        "projected_at_ms": epoch_ms(projected_at),
        "kafka_partition": event.partition,
        "kafka_offset": event.offset,
    }


def newest(entries: Iterable[Entry], keep: int = RECENT_ENTRIES) -> list[Entry]:
    """The `keep` greatest entries by (occurred_at_ms, event_id), each event id once."""
    by_id = {str(entry["event_id"]): entry for entry in entries}
    return heapq.nlargest(keep, by_id.values(), key=lambda e: (e["occurred_at_ms"], e["event_id"]))


def encode_recent(entries: Sequence[Entry]) -> str:
    rows = [[entry.get(name) for name in RECENT_FIELDS] for entry in entries]
    return json.dumps({"fields": RECENT_FIELDS, "rows": rows}, separators=(",", ":"))


def decode_recent(text: str) -> list[Entry]:
    stored = json.loads(text)
    return [dict(zip(stored["fields"], row, strict=True)) for row in stored["rows"]]


@dataclass(frozen=True, slots=True)
class Tracked:
    """A partition's tracking document as a batch starts."""

    next_offset: int
    # None: written before `recent` existed, so it is not kept (see the module docstring).
    recent: list[Entry] | None


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

    def __init__(
        self,
        client: AsyncMongoClient[dict[str, Any]],
        settings: Settings,
        recent_entries: int = RECENT_ENTRIES,
    ) -> None:
        self._client = client
        self._recent_entries = recent_entries
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
        async with closed_on_failure(client.close):
            await projection.create_indexes()
        return projection

    async def _call(self, what: str, call: Any) -> Any:
        return await bounded(call, what, self._timeout_s, from_mongo)

    async def _insert_new(self, docs: list[dict[str, Any]]) -> None:
        """Insert the documents; one already there (a re-delivery) is not an error."""
        try:
            await self._collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if not only_duplicates(exc):
                raise

    async def create_indexes(self) -> None:
        for name, keys in INDEXES:
            await self._call("Mongo indexes", self._collection.create_index(keys, name=name))

    async def apply(self, batch: Batch) -> None:
        tracked = await self._tracked(batch.spans)
        applied = {partition: t.next_offset for partition, t in tracked.items()}
        for partition, span in batch.spans.items():
            if applied.get(partition, 0) < span.first:
                raise StoreBehind(self.name, partition, applied.get(partition, 0), span.first)
        fresh = [e for e in batch.canonical if e.offset >= applied.get(e.partition, 0)]
        now = datetime.now(UTC)
        if fresh:
            docs = [document(event, now) for event in fresh]
            await self._call(f"Mongo batch of {len(docs)}", self._insert_new(docs))
        for partition, span in sorted(batch.spans.items()):
            events = [e for e in fresh if e.partition == partition]
            known = tracked.get(partition)
            if known is None:
                await self._create(partition, span.next, events, now)
            else:
                await self._advance(partition, known, span.next, events, now)

    async def _tracked(self, partitions: Any) -> dict[int, Tracked]:
        ids = [self._doc_id(p) for p in partitions]
        fields = {"partition": 1, "next_offset": 1, "recent": 1}
        cursor = self._tracking.find({"_id": {"$in": ids}}, fields)
        docs = await self._call("Mongo tracking", cursor.to_list(None))
        return {
            int(doc["partition"]): Tracked(
                int(doc["next_offset"]),
                None if doc.get("recent") is None else decode_recent(str(doc["recent"])),
            )
            for doc in docs
        }

    def _recent(self, kept: list[Entry], events: Sequence[Event], now: datetime) -> str:
        keep = self._recent_entries
        # Only the batch's own newest can enter the list: rows for those alone, not for a
        # whole merged batch of thousands.
        top = heapq.nlargest(keep, events, key=lambda e: (e.occurred_at_ms, e.event_id))
        fresh = [recent_entry(event, now) for event in top]
        return encode_recent(newest([*kept, *fresh], keep))

    async def _create(
        self, partition: int, next_offset: int, events: Sequence[Event], now: datetime
    ) -> None:
        """The partition's first tracking document, holding its first batch."""
        doc: dict[str, Any] = {
            "_id": self._doc_id(partition),
            "topic": self._topic,
            "partition": partition,
            "next_offset": next_offset,
            "projected_at": now,
            "events": 0,
            "games": {},
            "routes": {},
            "recent": self._recent([], events, now),
        }
        for path, n in totals_update(events).items():
            head, _, tail = path.partition(".")
            if tail:
                doc[head][tail] = n
            else:
                doc[head] = n
        # A duplicate key here means another writer created it first: a SinkError, retried.
        await self._call(f"Mongo tracking of partition {partition}", self._tracking.insert_one(doc))

    async def _advance(
        self,
        partition: int,
        known: Tracked,
        next_offset: int,
        events: Sequence[Event],
        now: datetime,
    ) -> None:
        """Compare-and-set the tracking document; a lost race is retried from the top."""
        if next_offset <= known.next_offset:
            return
        update: dict[str, Any] = {"$set": {"next_offset": next_offset, "projected_at": now}}
        if events:
            update["$inc"] = totals_update(events)
            if known.recent is not None:
                update["$set"]["recent"] = self._recent(known.recent, events, now)
        what = f"Mongo tracking of partition {partition}"
        cas = {"_id": self._doc_id(partition), "next_offset": known.next_offset}
        result = await self._call(what, self._tracking.update_one(cas, update))
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
