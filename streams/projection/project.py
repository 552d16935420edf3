"""The projection engine: stores opened once, batches through the pipeline, dead letters out.

The Faust agent, replay and the benchmarks all project through `Projector`, so there is one
engine: decode a batch of records, dead-letter what does not decode, hand the rest to the
pipeline (ledger first, then the other stores), and call `on_committed` once every store
holds the batch. A store found behind catches up from the log through `catch_up`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from squidstream.backoff import Backoff
from squidstream.settings import Settings
from streams.projection.batch import Batch, Record, Span, make_batch
from streams.projection.deadletter import DeadLetters, new_producer
from streams.projection.decode import DeadLetter, Event, encode
from streams.projection.log_reader import open_reader, read_ranges
from streams.projection.pipeline import Pipeline
from streams.sinks import Ledger, Projection
from streams.sinks.mongo import MongoProjection
from streams.sinks.redis import RedisProjection
from streams.sinks.sql import SqlProjection
from streams.worker.gaps import DeliveryCheck, Holes, StartOf, read_missing, spanning, with_records

log = logging.getLogger(__name__)
# Batches open at once; each store merges what queued behind it, up to MAX_WRITE_EVENTS.
MAX_INFLIGHT = 4
MAX_WRITE_EVENTS = 5000


@dataclass
class Stores:
    """The ledger (SQL) and the stores that follow it (Redis, MongoDB)."""

    ledger: Ledger
    followers: list[Projection]

    @property
    def all(self) -> list[Projection]:
        return [self.ledger, *self.followers]


async def open_stores(settings: Settings) -> Stores:
    """Open SQL, Redis and MongoDB; close what opened if one fails."""
    opened: list[Any] = []
    try:
        for opener in (SqlProjection.open, RedisProjection.open, MongoProjection.open):
            opened.append(await opener(settings))
    except BaseException:
        await close_stores(opened)
        raise
    return Stores(opened[0], opened[1:])


async def open_stores_retrying(settings: Settings) -> Stores:
    """Like open_stores, but waits (capped, jittered backoff) for stores that are down."""
    backoff = Backoff()
    while True:
        try:
            return await open_stores(settings)
        except Exception as exc:  # any store failure at start is waited out, never fatal
            delay = backoff.next_delay()
            log.warning("stores not ready (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)


async def close_stores(stores: Sequence[Projection]) -> None:
    for store in stores:
        try:
            await store.close()
        except Exception as exc:  # closing must not hide the original error
            log.warning("closing %s failed: %s", store.name, exc)


class LogCatchUp:
    """Feeds a store that is behind the batches it lacks, read from the events log."""

    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self._settings = settings
        self._ledger = ledger

    async def __call__(
        self, store: Projection, partition: int, start: int, end: int
    ) -> AsyncIterator[Batch]:
        tp = TopicPartition(self._settings.events_topic, partition)
        position = start
        async with open_reader(self._settings) as consumer:
            async for records in read_ranges(
                consumer, {tp: (start, end)}, self._settings.batch_size
            ):
                batch = make_batch(records)
                # Offsets missing from the log (deleted records) count as applied.
                span = batch.spans[partition]
                batch.spans[partition] = Span(position, span.next, span.last_timestamp_ms)
                position = span.next
                if store is not self._ledger:
                    batch.canonical = await self._ledger.canonical_of(batch.events)
                log.info("%s: caught up partition %d to offset %d", store.name, partition, position)
                yield batch
        if position < end:  # nothing (more) in the log below `end`
            yield Batch([], [], {partition: Span(position, end)}, 0)


class Projector:
    """Records in, batches projected into every store exactly once, committed in order."""

    def __init__(
        self,
        settings: Settings,
        stores: Stores,
        on_committed: Callable[[Batch], Awaitable[None]],
        on_broken: Callable[[BaseException], None] = lambda exc: None,
        start_of: StartOf | None = None,
        on_skipped: Callable[[int], None] = lambda records: None,
    ) -> None:
        """`start_of` turns on the check for records the consumer did not deliver: it gives
        the offset each partition's records must start from (streams.worker.gaps); `on_skipped`
        hears how many were read from the log."""
        self.settings = settings
        self.stores = stores
        self._on_committed = on_committed
        self._on_broken = on_broken
        self._producer = new_producer(settings)
        self.dead_letters = DeadLetters(self._producer, settings)
        self.delivery = DeliveryCheck(start_of) if start_of is not None else None
        self._on_skipped = on_skipped
        self.projected = 0
        self.batches = 0
        self.pipeline = Pipeline(
            stores.ledger,
            stores.followers,
            self._committed,
            quarantine=self._quarantine,
            catch_up=LogCatchUp(settings, stores.ledger),
            max_inflight=MAX_INFLIGHT,
            max_events=MAX_WRITE_EVENTS,
            stall_timeout_s=settings.stall_timeout_s,
            on_broken=on_broken,
        )

    async def __aenter__(self) -> Projector:
        await self._producer.start()
        await self.pipeline.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.pipeline.__aexit__(*exc)
        finally:
            await self._producer.stop()

    async def submit(self, records: Sequence[Record], handles: Sequence[Any] = ()) -> None:
        """Decode and project one fetched batch; waits while too many batches are open.

        With the delivery check on, offsets missing before the batch are read from the log
        and projected first, and those missing inside it are read into it.
        """
        if self.delivery is not None:
            holes = self.delivery.holes(records, handles)
            if holes:
                records = await self._fill(holes, records, handles)
        await self._submit(records, handles)

    async def _submit(
        self, records: Sequence[Record], handles: Sequence[Any], anchors: Sequence[Any] = ()
    ) -> None:
        self.pipeline.begin()
        batch = make_batch(records, handles, anchors)
        if batch.letters:
            await self.dead_letters.send(batch.letters, self.settings.events_topic)
        await self.pipeline.submit(batch)

    async def _fill(
        self, holes: Holes, records: Sequence[Record], handles: Sequence[Any]
    ) -> Sequence[Record]:
        log.warning(
            "batches began or jumped past what the tables hold; reading offsets %s from the log",
            holes.describe(),
        )
        self._on_skipped(holes.records)
        topic, size = self.settings.events_topic, self.settings.batch_size
        async with open_reader(self.settings) as consumer:
            # Before the batch: batches of their own, in order; the batch's events stand in
            # as the tables' current events, and are acknowledged with the batch only.
            async for missing in read_missing(consumer, topic, holes.before, size):
                await self._submit(missing, (), anchors=handles)
            if holes.inside:
                ranges = spanning(holes.inside)
                read = [
                    r async for chunk in read_missing(consumer, topic, ranges, size) for r in chunk
                ]
                records = with_records(records, read)
        return records

    async def probe(self, partition: int, offset: int) -> None:
        """An empty batch at `offset`: any store whose record ends before it catches up."""
        self.pipeline.begin()
        await self.pipeline.submit(Batch([], [], {partition: Span(offset, offset)}, 0))

    async def _committed(self, batch: Batch) -> None:
        await self._on_committed(batch)
        self.batches += 1
        self.projected += len(batch.canonical)

    async def _quarantine(self, store: str, event: Event, reason: str) -> None:
        log.error("dead letter: %s refused event %s: %s", store, event.event_id, reason)
        letter = DeadLetter(
            f"{store} refused it: {reason}", encode(event), event.partition, event.offset
        )
        await self.dead_letters.send([letter], f"{self.settings.events_topic}:{store}")
