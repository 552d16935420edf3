"""The MongoDB audit log: one document per event, _id = event id, duplicates ignored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import BulkWriteError, PyMongoError

from squidstream.settings import Settings
from streams.decode import Event
from streams.errors import SinkError

DUPLICATE_KEY = 11000
INDEXED_FIELDS = ("occurred_at_ms", "game_id", "route")


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


def only_duplicates(exc: BulkWriteError) -> bool:
    """True when every write error of a bulk insert is a duplicate key (already applied)."""
    details = exc.details or {}
    errors = details.get("writeErrors", [])
    concern = details.get("writeConcernErrors", [])
    return bool(errors) and not concern and all(e.get("code") == DUPLICATE_KEY for e in errors)


class MongoProjection:
    """The audit log collection with the indexes the log queries use."""

    name = "mongo"

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], settings: Settings) -> None:
        self._client = client
        self._db = client[settings.mongo_database]
        self._collection = self._db[settings.mongo_collection]

    @classmethod
    async def open(cls, settings: Settings) -> MongoProjection:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000
        )
        projection = cls(client, settings)
        try:
            await projection.create_indexes()
        except PyMongoError as exc:
            await client.close()
            raise SinkError(f"cannot open MongoDB at {settings.mongo_url}: {exc}") from exc
        return projection

    async def create_indexes(self) -> None:
        for field in INDEXED_FIELDS:
            await self._collection.create_index([(field, ASCENDING)], name=f"idx_{field}")

    async def apply(self, batch: Sequence[Event]) -> None:
        if not batch:
            return
        now = datetime.now(UTC)
        docs = [document(event, now) for event in batch]
        try:
            await self._collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if not only_duplicates(exc):
                raise SinkError(f"Mongo batch of {len(batch)} failed: {exc.details}") from exc
        except PyMongoError as exc:
            raise SinkError(f"Mongo batch of {len(batch)} failed: {exc}") from exc

    async def reset(self) -> None:
        try:
            await self._collection.drop()
            await self.create_indexes()
        except PyMongoError as exc:
            raise SinkError(f"cannot reset the audit log: {exc}") from exc

    async def close(self) -> None:
        await self._client.close()
