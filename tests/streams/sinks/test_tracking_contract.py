"""One contract suite run against each real store: tracking records make every apply exact.

Each store keeps the next offset it applied per partition in the same atomic write as the
batch (streams.sinks). Whatever order and overlap batches arrive in, a store counts each
canonical event once, refuses a batch that starts past its record, and reports positions.
The `store` fixture (conftest.py) runs every test here once per store: SQL, Redis, MongoDB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from squidstream.settings import Settings
from streams.bench.synthetic import synthetic_events
from streams.errors import StoreBehind
from streams.projection.batch import Batch, Span
from streams.sinks import Ledger
from streams.sinks.sql import SqlProjection
from tests.helpers import isolated_settings
from tests.streams.sinks.stores import Opened, batch, laid_out, open_sql

pytestmark = [pytest.mark.stack, pytest.mark.sql]


@pytest.fixture
async def ledger(store: Opened[Any, Any], stack: Settings) -> AsyncIterator[Ledger]:
    """The SQL ledger that decides canonical copies for the store (SQL: the store itself)."""
    if isinstance(store.projection, SqlProjection):
        yield store.projection
        return
    opened = await open_sql(isolated_settings(stack, "ledger"))
    try:
        yield opened.projection
    finally:
        await opened.close()


@pytest.mark.parametrize(
    ("seed", "total", "deliveries"),
    [(1, 200, [(0, 200), (0, 200)]), (2, 300, [(0, 150), (100, 300)])],
    ids=["a-batch-applied-twice", "an-overlapping-batch-from-an-older-commit"],
)
async def test_re_delivered_offsets_count_once(
    store: Opened[Any, Any], seed: int, total: int, deliveries: list[tuple[int, int]]
) -> None:
    events = laid_out(synthetic_events(total, seed=seed))
    for start, end in deliveries:
        await store.projection.apply(batch(events[start:end]))
    assert await store.count() == total
    assert await store.projection.positions() == {0: total}


async def test_a_batch_past_the_tracking_record_is_refused_as_behind(
    store: Opened[Any, Any],
) -> None:
    events = laid_out(synthetic_events(30, seed=3))
    await store.projection.apply(batch(events[:10]))
    with pytest.raises(StoreBehind) as behind:
        await store.projection.apply(batch(events[20:]))
    assert (behind.value.partition, behind.value.applied_next, behind.value.first) == (0, 10, 20)
    assert await store.count() == 10


async def test_offsets_without_events_still_advance_the_record(store: Opened[Any, Any]) -> None:
    await store.projection.apply(Batch([], [], {2: Span(0, 7)}, 7))
    assert await store.projection.positions() == {2: 7}


async def test_reset_empties_the_store_and_its_tracking_records(store: Opened[Any, Any]) -> None:
    await store.projection.apply(batch(laid_out(synthetic_events(20, seed=4))))
    await store.projection.reset()
    assert await store.count() == 0
    assert await store.projection.positions() == {}


async def test_a_second_copy_of_an_event_id_counts_nothing_but_advances_the_record(
    store: Opened[Any, Any], ledger: Ledger
) -> None:
    events = laid_out(synthetic_events(6, seed=7))
    copies = laid_out(events[:3], first=6)  # a bridge re-delivery, at new offsets
    for fetched in (batch(events), batch(copies)):
        fetched.canonical = []  # the ledger decides, as in the pipeline: ledger first
        if ledger is not store.projection:
            await ledger.apply(fetched)
        await store.projection.apply(fetched)
    assert await store.count() == 6
    assert await store.projection.positions() == {0: 9}
