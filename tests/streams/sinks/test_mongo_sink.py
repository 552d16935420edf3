"""The Mongo audit log against FerretDB: one document per event, duplicates absorbed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError

from squidstream.settings import Settings
from streams.sinks.mongo import MongoProjection, only_duplicates
from streams.synthetic import synthetic_events


@pytest.fixture
async def mongo(stack: Settings) -> AsyncIterator[tuple[MongoProjection, Any]]:
    settings = stack.model_copy(update={"mongo_database": f"squid_t_{uuid.uuid4().hex[:10]}"})
    projection = await MongoProjection.open(settings)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        yield projection, client[settings.mongo_database][settings.mongo_collection]
    finally:
        await client.drop_database(settings.mongo_database)
        await client.close()
        await projection.close()


@pytest.mark.stack
@pytest.mark.asyncio
async def test_re_inserting_events_keeps_one_document_per_event(
    mongo: tuple[MongoProjection, Any],
) -> None:
    projection, collection = mongo
    batch = synthetic_events(200, seed=21)
    await projection.apply(batch[:150])
    await projection.apply(batch[100:] + batch[:5])
    assert await collection.count_documents({}) == 200
    doc = await collection.find_one({"_id": batch[0].event_id})
    assert doc is not None
    assert doc["winner"] == batch[0].winner
    assert "projected_at" in doc


def test_only_duplicate_key_errors_count_as_already_applied() -> None:
    dup = BulkWriteError({"writeErrors": [{"code": 11000}, {"code": 11000}]})
    mixed = BulkWriteError({"writeErrors": [{"code": 11000}, {"code": 121}]})
    assert only_duplicates(dup)
    assert not only_duplicates(mixed)
