"""The Mongo audit log against FerretDB: one document per event, duplicates absorbed."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.errors import BulkWriteError

from squidstream.settings import Settings
from streams.bench.synthetic import synthetic_events
from streams.errors import SinkError
from streams.sinks.errors import only_duplicates
from streams.sinks.mongo import MongoProjection, all_or_first_error, document, pieces
from tests.streams.sinks.stores import Opened, batch, laid_out
from views.stores.mongo_reports import MongoReports


@pytest.mark.stack
async def test_documents_and_totals_survive_a_crash_between_the_two_writes(
    mongo: Opened[MongoProjection, Any], sink_settings: Settings
) -> None:
    collection = mongo.client
    events = laid_out(synthetic_events(200, seed=21))
    # A worker that died after inserting the documents, before advancing the tracking
    # document: the documents exist, the totals do not.
    await collection.insert_many([document(e, datetime.now(UTC)) for e in events[:150]])
    await mongo.projection.apply(batch(events))
    assert await collection.count_documents({}) == 200
    reports = MongoReports(
        collection.database.client,
        sink_settings.mongo_database,
        sink_settings.mongo_collection,
        events_topic=sink_settings.events_topic,
    )
    totals = await reports.totals()
    assert totals.events == 200
    assert sum(totals.games.values()) == 200
    assert totals.routes == Counter({"kafka": 200})
    doc = await collection.find_one({"_id": events[0].event_id})
    assert doc is not None
    assert (doc["winner"], doc["kafka_offset"]) == (events[0].winner, 0)


def test_only_duplicate_key_errors_count_as_already_applied() -> None:
    dup = BulkWriteError({"writeErrors": [{"code": 11000}, {"code": 11000}]})
    mixed = BulkWriteError({"writeErrors": [{"code": 11000}, {"code": 121}]})
    assert only_duplicates(dup)
    assert not only_duplicates(mixed)


@pytest.mark.parametrize(
    ("count", "writers", "sizes"),
    [(0, 4, []), (10, 4, [10]), (999, 4, [999]), (1000, 4, [500, 500]), (5000, 4, [1250] * 4)],
)
def test_a_batch_s_inserts_are_cut_into_few_even_pieces(
    count: int, writers: int, sizes: list[int]
) -> None:
    docs = list(range(count))

    cut = pieces(docs, writers, least=500)

    assert [len(piece) for piece in cut] == sizes
    assert [doc for piece in cut for doc in piece] == docs


async def test_one_failed_piece_raises_its_own_error_and_stops_the_others() -> None:
    stopped: list[str] = []

    async def fails() -> None:
        raise SinkError("Mongo batch of 500: no answer within the store timeout")

    async def waits() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            stopped.append("waits")
            raise

    with pytest.raises(SinkError, match="no answer"):  # not an ExceptionGroup: the lane sorts it
        await all_or_first_error([waits(), fails()])
    assert stopped == ["waits"]
