"""The MongoDB audit log: one document per event, plus per-partition tracking and totals.

MongoDB (and FerretDB, which has no transactions) writes one document atomically, not a
batch, so the order makes it exact: insert the audit documents (`_id` = event id, so a
repeat is a duplicate key and changes nothing), then advance the partition's tracking
document with a compare-and-set on its `next_offset`, adding the batch's totals in that same
single-document update. A crash between the two re-delivers the batch: the inserts are
duplicates and the totals are added once, by the one update whose offset still matches.
The totals (events, games per game id, inserts per route) serve the audit reports without
counting or grouping the collection.

The same update sets `recent`: the partition's newest entries by the log's order
(occurred_at_ms desc, event id desc), not by offset, since an event routed through RabbitMQ
can arrive after newer ones. The batch's fresh canonical events are merged into the list as
the batch starts. A list grown past twice `RECENT_ENTRIES` seals all but its newest
`RECENT_ENTRIES` rows into a chunk document, inserted before the update that lists it in the
tracking document's `chunks` (an unlisted chunk is never read), so the list and its chunks
hold every entry of the partition once. The views serve every log page from these documents:
FerretDB answers no sorted page from an index (views/stores/mongo_reports.py). The sink keeps
the list it wrote last and reads the stored one only when the document's `token` (new with
every list) is not the one it wrote: another writer, a restart or a reset. The list is one
JSON string (streams/sinks/recent_list.py): FerretDB converts every nested value, and 4
documents of 200 subdocuments took 200 ms to read where the same rows as one string took
7 ms. A tracking document written before `recent` existed is left without one (the views
then read the collection) until a replay rebuilds it, since its list would lack the older
entries; one written before `chunks` keeps its truncated list, dropping what it outgrows,
for the same reason.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import DESCENDING, AsyncMongoClient
from pymongo.errors import BulkWriteError

from squidstream.settings import Settings
from streams.errors import SinkError, StoreBehind
from streams.projection.batch import Batch
from streams.projection.decode import Event
from streams.sinks.errors import bounded, closed_on_failure, from_mongo, only_duplicates
from streams.sinks.recent_list import (
    RECENT_ENTRIES,
    ChunkRef,
    Row,
    chunk_of,
    decode_chunks,
    decode_rows,
    encode_chunks,
    encode_rows,
    fresh_rows,
    newest_rows,
    sealed,
)

T = TypeVar("T")
TRACKING_COLLECTION = "projection_tracking"
# Sealed chunks of the lists: `{_id: "{topic}:{partition}:{token}", topic, partition, rows}`.
CHUNKS_COLLECTION = "audit_chunks"
# Inserts in flight at once per batch, each of at least INSERT_PIECE documents. FerretDB on
# PostgreSQL took 1.7x the documents/s with four writers (issue 12's figures); on SQLite, one
# transaction at a time, four measured even with one, so the pieces cost nothing there.
WRITERS = 4
INSERT_PIECE = 500
# Keyset paging of the log, newest first: on MongoDB every page walks it (a game, route or
# time filter too), and the totals come from the tracking documents, so no other index has a
# reader. Each one costs every insert: FerretDB took 10-25% fewer documents/s with the three
# single-field ones we used to keep (game_id, route, occurred_at_ms) than without.
INDEXES: tuple[tuple[str, list[tuple[str, int]]], ...] = (
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


@dataclass(frozen=True, slots=True)
class Tracked:
    """A partition's tracking document as a batch starts."""

    next_offset: int
    # Changed with every write of the list: a list this sink holds is the stored one only
    # while the document still has the token this sink wrote with it.
    token: str | None
    # None: written before `recent` existed, so it is not kept (see the module docstring).
    recent: list[Row] | None
    # The sealed chunks the list continues in. None: the list was written before chunks
    # existed, dropping the rows it outgrew, so it is kept as then (truncated) until a replay.
    chunks: list[ChunkRef] | None


def pieces(docs: Sequence[T], writers: int, least: int = INSERT_PIECE) -> list[Sequence[T]]:
    """`docs` cut into at most `writers` even pieces of at least `least` (one if fewer)."""
    if not docs:
        return []
    count = max(1, min(writers, len(docs) // least))
    size = -(-len(docs) // count)
    return [docs[start : start + size] for start in range(0, len(docs), size)]


async def all_or_first_error(calls: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Await the calls together; if any fails, cancel the rest and raise the first error as
    it is (not an ExceptionGroup), so the lane still tells a transient error from poison."""
    try:
        async with asyncio.TaskGroup() as group:
            for call in calls:
                group.create_task(call)
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None


def _head(doc: dict[str, Any]) -> tuple[int, str | None]:
    """A tracking document's (next_offset, token). Without a token (written before tokens)
    the sink cannot tell its own list from another writer's, so it reads the stored one."""
    token = doc.get("token")
    return int(doc["next_offset"]), None if token is None else str(token)


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
        writers: int = WRITERS,
    ) -> None:
        self._client = client
        self._keep = recent_entries
        self._writers = writers
        # The last list this sink wrote per partition (see Tracked.token).
        self._held: dict[int, Tracked] = {}
        self._db = client[settings.mongo_database]
        self._collection = self._db[settings.mongo_collection]
        self._tracking = self._db[TRACKING_COLLECTION]
        self._chunks = self._db[CHUNKS_COLLECTION]
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

    async def _insert_new(self, docs: Sequence[dict[str, Any]]) -> None:
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
        # Documents carry their own `_id`, so their inserts commute: several at once. Every
        # tracking update waits for all of them, so no offset advances past a missing document.
        docs = [document(event, now) for event in fresh]
        await all_or_first_error(
            self._call(f"Mongo batch of {len(part)}", self._insert_new(part))
            for part in pieces(docs, self._writers)
        )
        by_partition: dict[int, list[Event]] = {partition: [] for partition in batch.spans}
        for event in fresh:
            by_partition[event.partition].append(event)
        await all_or_first_error(
            self._track(partition, tracked.get(partition), span.next, by_partition[partition], now)
            for partition, span in sorted(batch.spans.items())
        )

    def _track(
        self,
        partition: int,
        known: Tracked | None,
        next_offset: int,
        events: Sequence[Event],
        now: datetime,
    ) -> Coroutine[Any, Any, None]:
        if known is None:
            return self._create(partition, next_offset, events, now)
        return self._advance(partition, known, next_offset, events, now)

    async def _tracked(self, partitions: Iterable[int]) -> dict[int, Tracked]:
        """Each partition's tracking document; its list is read only when the one this sink
        wrote last is not the stored one (another writer, a restart, a reset)."""
        ids = [self._doc_id(p) for p in partitions]
        heads = await self._find_tracking(ids, {"partition": 1, "next_offset": 1, "token": 1})
        found: dict[int, Tracked] = {}
        stale = []
        for doc in heads:
            held = self._held.get(int(doc["partition"]))
            if (
                held is not None
                and held.token is not None
                and (held.next_offset, held.token) == _head(doc)
            ):
                found[int(doc["partition"])] = held
            else:
                stale.append(doc["_id"])
        if stale:
            fields = {"partition": 1, "next_offset": 1, "token": 1, "recent": 1, "chunks": 1}
            for doc in await self._find_tracking(stale, fields):
                text, directory = doc.get("recent"), doc.get("chunks")
                rows = None if text is None else decode_rows(str(text))
                chunks = None if directory is None else decode_chunks(str(directory))
                found[int(doc["partition"])] = Tracked(*_head(doc), rows, chunks)
        return found

    async def _find_tracking(self, ids: list[str], fields: dict[str, int]) -> list[dict[str, Any]]:
        cursor = self._tracking.find({"_id": {"$in": ids}}, fields)
        docs: list[dict[str, Any]] = await self._call("Mongo tracking", cursor.to_list(None))
        return docs

    async def _listed(
        self,
        partition: int,
        token: str,
        known: Tracked,
        events: Sequence[Event],
        now: datetime,
    ) -> tuple[list[Row], list[ChunkRef] | None]:
        """The list with the batch's entries merged in, its oldest rows sealed into a new
        chunk once it has grown long enough; the chunk is written before the list that
        references it, so a crash in between leaves an unreferenced chunk, never a gap."""
        kept = known.recent or []
        if known.chunks is None:  # from before chunks: truncated, as it always was
            rows = newest_rows([*kept, *fresh_rows(events, now, self._keep)], self._keep)
            return rows, None
        rows = newest_rows([*kept, *fresh_rows(events, now, len(events))], len(kept) + len(events))
        rows, oldest = sealed(rows, self._keep)
        if not oldest:
            return rows, known.chunks
        chunk_id = f"{self._doc_id(partition)}:{token}"
        chunk = {"_id": chunk_id, "topic": self._topic, "partition": partition}
        what = f"Mongo chunk of partition {partition}"
        await self._call(what, self._chunks.insert_one({**chunk, "rows": encode_rows(oldest)}))
        return rows, [*known.chunks, chunk_of(chunk_id, oldest)]

    async def _create(
        self, partition: int, next_offset: int, events: Sequence[Event], now: datetime
    ) -> None:
        """The partition's first tracking document, holding its first batch."""
        token = uuid.uuid4().hex
        rows, chunks = await self._listed(partition, token, Tracked(0, None, [], []), events, now)
        doc: dict[str, Any] = {
            "_id": self._doc_id(partition),
            "topic": self._topic,
            "partition": partition,
            "next_offset": next_offset,
            "projected_at": now,
            "events": 0,
            "games": {},
            "routes": {},
            "recent": encode_rows(rows),
            "chunks": encode_chunks(chunks or []),
            "token": token,
        }
        for path, n in totals_update(events).items():
            head, _, tail = path.partition(".")
            if tail:
                doc[head][tail] = n
            else:
                doc[head] = n
        # A duplicate key here means another writer created it first: a SinkError, retried.
        await self._call(f"Mongo tracking of partition {partition}", self._tracking.insert_one(doc))
        self._held[partition] = Tracked(next_offset, token, rows, chunks)

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
        listed = Tracked(next_offset, known.token, known.recent, known.chunks)
        if events:
            update["$inc"] = totals_update(events)
            if known.recent is not None:
                token = uuid.uuid4().hex
                rows, chunks = await self._listed(partition, token, known, events, now)
                listed = Tracked(next_offset, token, rows, chunks)
                update["$set"].update(recent=encode_rows(rows), token=token)
                if chunks is not None:
                    update["$set"]["chunks"] = encode_chunks(chunks)
        what = f"Mongo tracking of partition {partition}"
        cas = {"_id": self._doc_id(partition), "next_offset": known.next_offset}
        if known.token is not None:
            cas["token"] = known.token
        self._held.pop(partition, None)  # until the write is known to have landed
        result = await self._call(what, self._tracking.update_one(cas, update))
        if result.matched_count != 1:
            raise SinkError(f"{what}: moved by another writer; retrying")
        if listed.recent is not None:
            self._held[partition] = listed

    def _doc_id(self, partition: int) -> str:
        return f"{self._topic}:{partition}"

    async def positions(self) -> dict[int, int]:
        cursor = self._tracking.find({"topic": self._topic}, {"partition": 1, "next_offset": 1})
        docs = await self._call("Mongo tracking", cursor.to_list(None))
        return {int(doc["partition"]): int(doc["next_offset"]) for doc in docs}

    async def reset(self) -> None:
        self._held.clear()
        await self._call("Mongo reset", self._collection.drop())
        await self._call("Mongo reset", self._chunks.delete_many({"topic": self._topic}))
        await self._call("Mongo reset", self._tracking.delete_many({"topic": self._topic}))
        await self.create_indexes()

    async def close(self) -> None:
        await self._client.close()
