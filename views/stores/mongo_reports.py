"""Audit-log reports from the MongoDB layout documented in docs/stores.md.

No read here scans, counts or groups the whole audit collection: counting 200,000 documents
took about 12 s on FerretDB and a `$group` over 900,000 was killed by the OOM killer at 23 GB.
Totals (events, per game, per route, projection time) come from the projection's tracking
documents, one per events-topic partition, written in the same batch as the audit documents.
The log pages by key, newest first, on (occurred_at_ms, _id): one `find` with the last
entry's key as a bound and a limit, which MongoDB serves from the sink's
`(occurred_at_ms desc, _id desc)` index (streams/sinks/mongo.py creates it; docs/stores.md).

FerretDB 1.24 on SQLite cannot serve such a page from any index: it pushes down only a
filter that is exactly `{_id: <string>}`, and even that scans, since its `_id` index is on
`_ferretdb_sjson->"_id"` while the query reads `_ferretdb_sjson->'$._id'` (explain: SCAN).
A sort or range filter reads and sorts the whole collection in FerretDB's memory: measured
here, 22.8 s for the newest page of 100,000 documents, 0.6 s for one `_id` lookup.

So a page is told from the tracking documents: each keeps its partition's newest entries
(`recent`, written by the sink in the same update as the totals) and a directory of sealed
chunks holding all older ones, each chunk one document read by `_id` (an indexed lookup,
with the stack's patched FerretDB). The first pages need only the lists; a deeper or
filtered page reads the chunks whose key range reaches above its last entry, at most
`chunk_reads` per page: a narrow filter past them gets a short page whose `next` cursor
goes on where it stopped (views/stores/recent_entries.py). Chunks never change, so the
latest ones read are kept. Only lists from before chunks existed (no directory) leave a
horizon below which a page queries the collection, with a server-side time limit (a slow
page fails as 503 instead of piling up); identical reads asked for at the same time (the
dashboard polls each tab every 1.5 s) share one query, so open tabs cannot multiply that
scan. All answers use the same order and cursor, so a walk crosses from one to another
without a gap or repeat.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from squidstream.games import GAMES
from views.errors import StoreUnavailable
from views.models import (
    AuditEntry,
    AuditPage,
    Freshness,
    GameCount,
    RouteCount,
    RouteCounts,
    TopGames,
)
from views.stores.recent_entries import (
    ChunkRef,
    Key,
    Listed,
    ParsedLists,
    RecentLog,
    key_of,
    parse_rows,
)

T = TypeVar("T")
Doc = dict[str, Any]
TOP_GAMES = 3
TRACKING_COLLECTION = "projection_tracking"
CHUNKS_COLLECTION = "audit_chunks"
# Chunks one page may read (each one lookup by `_id` of ~500 entries, ~5 ms uncached here)
# before it stops short: a filter that matches nothing still answers in well under 100 ms.
CHUNK_READS = 12
# Parsed chunks kept, most recently read first: chunks never change, and a walk reads each
# one for several pages. Bounded, so the views' memory does not grow with the log.
CHUNKS_KEPT = 64
# A page is an index walk on MongoDB (milliseconds); past this it is a scan, and we stop it.
LOG_MAX_TIME_MS = 3_000
# The tracking collection holds one small document per partition.
COUNTERS_MAX_TIME_MS = 1_000
MAX_EVENT_ID = 200
NEWEST_FIRST = [("occurred_at_ms", -1), ("_id", -1)]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadCursor(ValueError):
    """A `next` cursor that this module did not write."""


class MissingChunk(LookupError):
    """A chunk a directory lists is not there (or unreadable): the collection must answer."""


@dataclass(frozen=True, slots=True)
class LogCursor:
    """Where a log page ended: the last entry's occurrence time and _id (its event id)."""

    occurred_at_ms: int
    event_id: str

    def encode(self) -> str:
        raw = json.dumps([self.occurred_at_ms, self.event_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> LogCursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            ms, event_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
            raise BadCursor(f"not a cursor of this log: {text!r}") from exc
        # Bounded as BSON's int64 and our event ids are: past that the driver would raise.
        if type(ms) is not int or not 0 <= ms < 2**63 or not isinstance(event_id, str):
            raise BadCursor(f"not a cursor of this log: {text!r}")
        if len(event_id) > MAX_EVENT_ID:
            raise BadCursor(f"not a cursor of this log: {text!r}")
        return cls(ms, event_id)

    @property
    def key(self) -> Key:
        return self.occurred_at_ms, self.event_id

    def after(self) -> Doc:
        """Documents strictly after this cursor in newest-first order."""
        return {
            "$or": [
                {"occurred_at_ms": {"$lt": self.occurred_at_ms}},
                {"occurred_at_ms": self.occurred_at_ms, "_id": {"$lt": self.event_id}},
            ]
        }


# A log page's entries, and the cursor of the page after it (None on the last page).
Page = tuple[list[AuditEntry], LogCursor | None]


@dataclass(frozen=True)
class LogFilter:
    """Which audit documents a log page shows; None means any."""

    game_id: int | None = None
    route: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None

    @property
    def span(self) -> tuple[Key | None, Key | None]:
        """The lowest key this filter admits, and the key all it admits are below, if its
        time span has a start, an end."""
        floor = None if self.from_ms is None else (self.from_ms, "")
        return floor, None if self.to_ms is None else (self.to_ms, "")

    def admits(self, entry: Mapping[str, Any]) -> bool:
        """Whether `entry` (an audit document or a `recent` entry) is on this filter's pages."""
        at = int(entry["occurred_at_ms"])
        return (
            (self.game_id is None or entry["game_id"] == self.game_id)
            and (self.route is None or entry["route"] == self.route)
            and (self.from_ms is None or at >= self.from_ms)
            and (self.to_ms is None or at < self.to_ms)
        )

    def query(self, after: LogCursor | None = None) -> Doc:
        query: Doc = {}
        if self.game_id is not None:
            query["game_id"] = self.game_id
        if self.route is not None:
            query["route"] = self.route
        span: Doc = {}
        if self.from_ms is not None:
            span["$gte"] = self.from_ms
        if self.to_ms is not None:
            span["$lt"] = self.to_ms
        if span:
            query["occurred_at_ms"] = span
        if after is None:
            return query
        return {"$and": [query, after.after()]} if query else after.after()


@dataclass(frozen=True)
class Totals:
    """The projection's counters summed over the partitions of one events topic."""

    events: int = 0
    games: Counter[int] = field(default_factory=Counter)
    routes: Counter[str] = field(default_factory=Counter)
    projected_at_ms: int | None = None


def sum_tracking(docs: list[Doc]) -> Totals:
    """Add up tracking documents (one per partition) into the audit log's totals."""
    games: Counter[int] = Counter()
    routes: Counter[str] = Counter()
    events, newest = 0, None
    for doc in docs:
        events += int(doc.get("events", 0))
        games.update({int(k): int(n) for k, n in (doc.get("games") or {}).items()})
        routes.update({str(k): int(n) for k, n in (doc.get("routes") or {}).items()})
        at = _epoch_ms(doc.get("projected_at"))
        if at is not None and (newest is None or at > newest):
            newest = at
    return Totals(events, +games, +routes, newest)


def top_of(games: Counter[int], count: int = TOP_GAMES) -> list[GameCount]:
    """The most played games; a tie goes to the lower game id."""
    ranked = sorted(games.items(), key=lambda kv: (-kv[1], kv[0]))[:count]
    return [GameCount(game_id=g, game_name=GAMES.get(g, ""), games=n) for g, n in ranked]


def _epoch_ms(value: object) -> int | None:
    if isinstance(value, datetime):
        # Integer arithmetic: BSON keeps whole milliseconds, a float product can lose one.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return (aware - EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, int):
        return value
    return None


def _cut(
    found: list[Doc], page_size: int, key: Callable[[Doc], Key]
) -> tuple[list[Doc], LogCursor | None]:
    """A page's entries, and the cursor after its last one when one more was found."""
    shown = found[:page_size]
    return shown, LogCursor(*key(shown[-1])) if len(found) > page_size else None


def _document_key(doc: Doc) -> Key:
    return int(doc["occurred_at_ms"]), str(doc["_id"])


def _entry(doc: Doc) -> AuditEntry:
    fields = {**doc, "event_id": doc.get("event_id") or str(doc["_id"])}
    fields["projected_at_ms"] = _epoch_ms(doc.get("projected_at"))
    return AuditEntry.model_validate(fields)


class MongoReports:
    """Reads the audit log by key and its totals from the projection's counters."""

    store = "mongo"

    def __init__(
        self,
        client: AsyncMongoClient[Doc],
        database: str,
        collection: str,
        *,
        events_topic: str | None = None,
        chunk_reads: int = CHUNK_READS,
    ) -> None:
        self._collection: AsyncCollection[Doc] = client[database][collection]
        self._tracking: AsyncCollection[Doc] = client[database][TRACKING_COLLECTION]
        self._chunks: AsyncCollection[Doc] = client[database][CHUNKS_COLLECTION]
        self._chunk_reads = chunk_reads
        self._kept: OrderedDict[str, Listed] = OrderedDict()
        # None sums every topic's documents: right while one topic feeds this database.
        self._tracked: Doc = {} if events_topic is None else {"topic": events_topic}
        # Reads in flight, by query: a second identical request waits for the first.
        self._pending: dict[str, asyncio.Future[list[Doc]]] = {}
        # Log pages answered from the lists alone ("recent"), with chunks, or the collection.
        self.served: Counter[str] = Counter()
        self._parsed = ParsedLists()

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except PyMongoError as exc:
            raise StoreUnavailable(self.store, repr(exc)) from exc

    async def totals(self) -> Totals:
        cursor = self._tracking.find(self._tracked, {"recent": 0})
        return sum_tracking(await self._call(cursor.max_time_ms(COUNTERS_MAX_TIME_MS).to_list()))

    def _tracking_docs(self) -> Awaitable[list[Doc]]:
        cursor = self._tracking.find(self._tracked).max_time_ms(COUNTERS_MAX_TIME_MS)
        return self._call(cursor.to_list())

    async def projected_at_ms(self) -> int | None:
        return (await self.totals()).projected_at_ms

    async def events(self) -> int:
        return (await self.totals()).events

    def _find_page(self, query: Doc, limit: int) -> Awaitable[list[Doc]]:
        cursor = (
            self._collection.find(query)
            .sort(NEWEST_FIRST)
            .limit(limit)
            .max_time_ms(LOG_MAX_TIME_MS)
        )
        return self._call(cursor.to_list())

    async def _shared(self, key: str, read: Callable[[], Awaitable[list[Doc]]]) -> list[Doc]:
        """The read's documents; a request identical to one in flight shares its answer."""
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(read())
            self._pending[key] = pending
            pending.add_done_callback(functools.partial(self._forget, key))
        # Shielded: one client hanging up must not cancel the query the others wait for.
        return await asyncio.shield(pending)

    def _forget(self, key: str, done: asyncio.Future[list[Doc]]) -> None:
        self._pending.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved, so a failure nobody waits for is not logged as lost

    async def log(self, where: LogFilter, after: LogCursor | None, page_size: int) -> AuditPage:
        tracking = await self._shared("tracking", self._tracking_docs)
        page = await self._recent_page(tracking, where, after, page_size)
        if page is None:
            self.served["collection"] += 1
            page = await self._collection_page(where, after, page_size)
        entries, following = page
        return AuditPage(
            store=self.store,
            freshness=Freshness.at(sum_tracking(tracking).projected_at_ms),
            page_size=page_size,
            next=None if following is None else following.encode(),
            entries=entries,
        )

    async def _recent_page(
        self, tracking: list[Doc], where: LogFilter, after: LogCursor | None, page_size: int
    ) -> Page | None:
        """The page from the lists and chunks, or None if only the collection can tell."""
        recent = RecentLog.of(tracking, self._parsed)
        if recent is None:
            return None
        reads: list[int] = []

        async def read(chunks: Sequence[ChunkRef]) -> list[Listed]:
            reads.append(len(chunks))
            return await self._read_chunks(chunks)

        # One entry more than the page tells whether a next page exists, without a count.
        before = None if after is None else after.key
        try:
            found = await recent.page(
                where.admits, before, where.span, page_size + 1, read, self._chunk_reads
            )
        except MissingChunk:
            return None
        if found is None:
            return None
        self.served["chunks" if reads else "recent"] += 1
        if found.resume is None:
            shown, following = _cut(found.entries, page_size, key_of)
        else:
            shown, following = found.entries, LogCursor(*found.resume)  # stopped short
        return [AuditEntry.model_validate(entry) for entry in shown], following

    async def _read_chunks(self, chunks: Sequence[ChunkRef]) -> list[Listed]:
        return list(await asyncio.gather(*(self._chunk(chunk.chunk_id) for chunk in chunks)))

    async def _chunk(self, chunk_id: str) -> Listed:
        held = self._kept.get(chunk_id)
        if held is not None:
            self._kept.move_to_end(chunk_id)
            return held
        # Exactly `{_id: <string>}`: the one filter FerretDB serves from an index.
        cursor = self._chunks.find({"_id": chunk_id}).max_time_ms(COUNTERS_MAX_TIME_MS)
        docs = await self._call(cursor.to_list())
        found = parse_rows(docs[0].get("rows")) if docs else None
        if found is None:
            raise MissingChunk(chunk_id)
        self._kept[chunk_id] = found
        while len(self._kept) > CHUNKS_KEPT:
            self._kept.popitem(last=False)
        return found

    async def _collection_page(
        self, where: LogFilter, after: LogCursor | None, page_size: int
    ) -> Page:
        query = where.query(after)
        docs = await self._shared(
            json.dumps([query, page_size + 1], sort_keys=True),
            functools.partial(self._find_page, query, page_size + 1),
        )
        shown, following = _cut(docs, page_size, _document_key)
        return [_entry(doc) for doc in shown], following

    async def top_games(self) -> TopGames:
        totals = await self.totals()
        freshness = Freshness.at(totals.projected_at_ms)
        return TopGames(store=self.store, freshness=freshness, games=top_of(totals.games))

    async def inserts_per_route(self) -> RouteCounts:
        totals = await self.totals()
        routes = [RouteCount(route=r, inserts=n) for r, n in sorted(totals.routes.items())]
        freshness = Freshness.at(totals.projected_at_ms)
        return RouteCounts(store=self.store, freshness=freshness, routes=routes)
