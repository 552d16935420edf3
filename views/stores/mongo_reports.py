"""Audit-log reports from the MongoDB collection documented in docs/stores.md."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

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

T = TypeVar("T")
Doc = dict[str, Any]
TOP_GAMES = 3


@dataclass(frozen=True)
class LogFilter:
    """Which audit documents a log page shows; None means any."""

    game_id: int | None = None
    route: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None

    def query(self) -> Doc:
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
        return query


def _epoch_ms(value: object) -> int | None:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int):
        return value
    return None


def _entry(doc: Doc) -> AuditEntry:
    fields = {**doc, "event_id": doc.get("event_id") or str(doc["_id"])}
    fields["projected_at_ms"] = _epoch_ms(doc.get("projected_at"))
    return AuditEntry.model_validate(fields)


class MongoReports:
    """Reads the audit log: pages of documents and `$group`/`$sum` counts."""

    store = "mongo"

    def __init__(self, client: AsyncMongoClient[Doc], database: str, collection: str) -> None:
        self._collection: AsyncCollection[Doc] = client[database][collection]

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except PyMongoError as exc:
            raise StoreUnavailable(self.store, repr(exc)) from exc

    async def projected_at_ms(self) -> int | None:
        # The newest event by occurrence, through its index: a sort on projected_at would scan.
        cursor = self._collection.find({}, {"projected_at": 1}).sort("occurred_at_ms", -1)
        docs = await self._call(cursor.limit(1).to_list())
        return _epoch_ms(docs[0].get("projected_at")) if docs else None

    async def events(self) -> int:
        return await self._call(self._collection.estimated_document_count())

    async def _freshness(self) -> Freshness:
        return Freshness.at(await self.projected_at_ms())

    async def log(self, where: LogFilter, page: int, page_size: int) -> AuditPage:
        query = where.query()
        total = await self._call(self._collection.count_documents(query))
        cursor = (
            self._collection.find(query)
            .sort([("occurred_at_ms", -1), ("_id", -1)])
            .skip((page - 1) * page_size)
            .limit(page_size)
        )
        docs = await self._call(cursor.to_list())
        return AuditPage(
            store=self.store,
            freshness=await self._freshness(),
            total=total,
            page=page,
            page_size=page_size,
            entries=[_entry(doc) for doc in docs],
        )

    async def _count_by(self, field: str) -> list[Doc]:
        # Only $group with $sum: what both FerretDB and MongoDB support.
        pipeline: list[Doc] = [{"$group": {"_id": f"${field}", "n": {"$sum": 1}}}]
        cursor = await self._call(self._collection.aggregate(pipeline))
        return await self._call(cursor.to_list())

    async def top_games(self) -> TopGames:
        counts = await self._count_by("game_id")
        counts.sort(key=lambda doc: (-int(doc["n"]), int(doc["_id"])))
        games = []
        for doc in counts[:TOP_GAMES]:
            named = await self._call(
                self._collection.find_one({"game_id": doc["_id"]}, {"game_name": 1})
            )
            name = str(named.get("game_name", "")) if named else ""
            games.append(GameCount(game_id=int(doc["_id"]), game_name=name, games=int(doc["n"])))
        return TopGames(store=self.store, freshness=await self._freshness(), games=games)

    async def inserts_per_route(self) -> RouteCounts:
        counts = await self._count_by("route")
        routes = sorted(
            (RouteCount(route=str(doc["_id"]), inserts=int(doc["n"])) for doc in counts),
            key=lambda rc: rc.route,
        )
        return RouteCounts(store=self.store, freshness=await self._freshness(), routes=routes)
