"""The Mongo audit log against FerretDB: one document per event, duplicates absorbed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError

from squidstream.settings import Settings
from streams.sinks.errors import only_duplicates
from streams.sinks.mongo import TRACKING_COLLECTION, MongoProjection, document
from streams.synthetic import synthetic_events
from tests.streams.sinks.test_tracking_contract import batch, laid_out


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
async def test_documents_and_totals_survive_a_crash_between_the_two_writes(
    mongo: tuple[MongoProjection, Any],
) -> None:
    projection, collection = mongo
    events = laid_out(synthetic_events(200, seed=21))
    # A worker that died after inserting the documents, before advancing the tracking
    # document: the documents exist, the totals do not.
    await collection.insert_many([document(e, datetime.now(UTC)) for e in events[:150]])
    await projection.apply(batch(events))
    assert await collection.count_documents({}) == 200
    totals = await collection.database[TRACKING_COLLECTION].find_one({"partition": 0})
    assert totals is not None
    assert totals["events"] == 200
    assert sum(totals["games"].values()) == 200
    assert totals["routes"] == {"kafka": 200}
    doc = await collection.find_one({"_id": events[0].event_id})
    assert doc is not None
    assert (doc["winner"], doc["kafka_offset"]) == (events[0].winner, 0)


def test_only_duplicate_key_errors_count_as_already_applied() -> None:
    dup = BulkWriteError({"writeErrors": [{"code": 11000}, {"code": 11000}]})
    mixed = BulkWriteError({"writeErrors": [{"code": 11000}, {"code": 121}]})
    assert only_duplicates(dup)
    assert not only_duplicates(mixed)
