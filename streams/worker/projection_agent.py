"""The projection as a Faust agent: Faust consumes the events topic, we project and ack.

Faust's consumer owns partition assignment, rebalances and offsets. The agent takes events
in batches (`noack_take`, so nothing is acknowledged behind our back), hands them to the
projection engine, and acknowledges a batch's events only after every store holds it and
the brokers have confirmed its table writes; Faust commits acknowledged offsets. Offsets
are therefore committed only behind work that is done, and whatever is delivered again is
skipped by each store's tracking record and by the tables' per-key offsets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import faust
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from faust.types import EventT, StreamT

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from streams.errors import StreamsError
from streams.projection.batch import Batch, Record
from streams.projection.pipeline import LaneState, merge
from streams.projection.project import Projector, close_stores, open_stores_retrying
from streams.worker.agents import crash_worker
from streams.worker.metrics import WorkerMetrics
from streams.worker.tables import (
    Tables,
    applied_offset,
    apply_batch,
    confirm_writes,
    record_positions,
)

log = logging.getLogger(__name__)
# How often the stores' tracking records are compared with the committed offsets.
AUDIT_EVERY_S = 15.0
# Tables are written (and events acknowledged) at most this often, for all batches between.
TABLE_FLUSH_S = 1.0


def records_of(events: Sequence[EventT[Any]]) -> list[Record]:
    return [
        Record(
            e.message.partition,
            e.message.offset,
            int(e.message.timestamp * 1000),
            e.message.value,
        )
        for e in events
    ]


class ProjectionAgent:
    """Holds the running projector, so the worker's pages and metrics can read its state."""

    def __init__(self, app: faust.App, settings: Settings, tables: Tables) -> None:
        self.app = app
        self.settings = settings
        self.tables = tables
        self.projector: Projector | None = None
        # The offset after the last acknowledged record, per partition (for the lag).
        self.acked: dict[int, int] = {}
        self.metrics = WorkerMetrics()
        self.metrics.watch(self.lags, self.lanes, self.ends)
        self.topic = app.topic(
            settings.events_topic,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.events_partitions,
        )

    def owned(self) -> set[int]:
        """Partitions of the events topic assigned to this worker now."""
        return {
            tp.partition
            for tp in self.app.consumer.assignment()
            if tp.topic == self.topic.get_topic_name()
        }

    def done(self, batch: Batch) -> None:
        """Bookkeeping once a batch (or a merged group) is acknowledged."""
        for partition, span in batch.spans.items():
            self.acked[partition] = max(self.acked.get(partition, 0), span.next)
        self.metrics.projected.inc(len(batch.canonical))
        self.metrics.batch_seconds.observe(time.monotonic() - batch.fetched_at)

    def ends(self) -> dict[int, int]:
        """The end offset (high water mark) of each owned partition of the events topic."""
        topic = self.settings.events_topic
        return {
            tp.partition: self.app.consumer.highwater(tp) or 0
            for tp in self.app.consumer.assignment()
            if tp.topic == topic
        }

    def lags(self) -> list[tuple[int, int]]:
        """(partition, end offset minus acknowledged offset) for each owned partition."""
        result = []
        for partition, end in self.ends().items():
            acked = self.acked.get(partition)
            if acked is not None or end == 0:
                result.append((partition, max(0, end - (acked or 0))))
        return result

    def lanes(self) -> list[tuple[str, LaneState]]:
        projector = self.projector
        if projector is None:
            return []
        return [(lane.name, lane.state) for lane in projector.pipeline.lanes]

    async def run(self, stream: StreamT[Any]) -> None:
        try:
            await self._project(stream)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await crash_worker(self.app, "projection agent", exc)

    async def _project(self, stream: StreamT[Any]) -> None:
        settings = self.settings
        stores = await open_stores_retrying(settings)

        crashing: set[asyncio.Task[None]] = set()

        def broken(exc: BaseException) -> None:
            task = asyncio.ensure_future(crash_worker(self.app, "projection pipeline", exc))
            crashing.add(task)

        tables = TableFlush(self, stream, broken)

        def start_of(partition: int, events: Sequence[Any]) -> int:
            return applied_offset(self.tables, partition, events)

        projecting = Projector(
            settings,
            stores,
            tables.committed,
            broken,
            start_of=start_of,
            on_skipped=self.metrics.skipped.inc,
        )
        try:
            async with projecting as projector, tables:
                self.projector = projector
                # noack_take is on faust's Stream, not on its StreamT interface.
                take = stream.noack_take  # type: ignore[attr-defined]
                batches = take(settings.batch_size, within=settings.batch_timeout_s)
                async for events in batches:
                    await projector.submit(records_of(events), events)
        finally:
            self.projector = None
            await close_stores(stores.all)

    async def audit_positions(self) -> None:
        """Catch up a store that lost writes on a partition no new event arrives on.

        A batch that starts past a store's tracking record makes that store catch up, but a
        quiet partition brings no batch: so now and then every store's record is compared
        with the group's committed offsets, and a store found behind is sent an empty batch
        at the committed offset, which makes it catch up from the log.
        """
        projector = self.projector
        if projector is None:
            return
        try:
            committed = await self._committed_offsets()
            owned = self.owned()
            behind: dict[int, int] = {}
            for store in projector.stores.all:
                positions = await store.positions()
                for partition in owned:
                    offset = committed.get(partition, 0)
                    if positions.get(partition, 0) < offset:
                        behind[partition] = offset
                        log.warning("%s is behind on partition %d", store.name, partition)
        except (StreamsError, KafkaError, OSError) as exc:
            log.warning("could not compare the stores with the committed offsets: %s", exc)
            return
        for partition, offset in behind.items():
            await projector.probe(partition, offset)

    async def _committed_offsets(self) -> dict[int, int]:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap, **kafka_auth(self.settings)
        )
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self.settings.faust_app_id)
        finally:
            await admin.close()
        topic = self.settings.events_topic
        return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}

    async def on_rebalance_complete(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        """Partitions may have moved: check each one's next batch against the tables again."""
        projector = self.projector
        if projector is not None and projector.delivery is not None:
            projector.delivery.forget()

    def register(self) -> None:
        self.app.agent(self.topic, name="squid-projection", concurrency=1)(self.run)
        self.app.timer(AUDIT_EVERY_S)(self.audit_positions)
        # mode's signal types do not admit coroutine functions, which it does call and await.
        self.app.on_rebalance_complete.connect(cast(Any, self.on_rebalance_complete))
        self.metrics.install(self.app)


class TableFlush:
    """Writes the tables for everything committed since the last flush, then acks it.

    A table write is one changelog record per key, and Faust holds the stream back while
    its producer buffer is full: writing after every small batch made the worker slower the
    busier it got (smaller batches, more records per event). Flushing at most every
    TABLE_FLUSH_S writes each touched key once per flush, whatever the event rate, and the
    events are still acknowledged only after their table writes are confirmed.
    """

    def __init__(
        self,
        agent: ProjectionAgent,
        stream: StreamT[Any],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self.agent = agent
        self.stream = stream
        self.on_error = on_error
        self.pending: list[Batch] = []
        self.last = time.monotonic()
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None

    async def committed(self, batch: Batch) -> None:
        self.pending.append(batch)
        if time.monotonic() - self.last >= TABLE_FLUSH_S:
            await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            group, self.pending = self.pending, []
            self.last = time.monotonic()
            if not group:
                return
            merged = merge(group)
            owned = self.agent.owned()
            apply_batch(self.agent.tables, merged, owned)
            await confirm_writes(self.agent.tables)
            # After the keys are confirmed: a table position must never be ahead of the keys
            # it vouches for. Confirmed before the acks, so it never trails the committed
            # offset either: a batch found past it then means records really were skipped.
            record_positions(self.agent.tables, merged, owned)
            await confirm_writes(self.agent.tables)
            for event in merged.handles:
                await self.stream.ack(event)
            self.agent.done(merged)

    async def _flush_idle(self) -> None:
        while True:
            await asyncio.sleep(TABLE_FLUSH_S)
            if self.pending and time.monotonic() - self.last >= TABLE_FLUSH_S:
                await self.flush()

    async def __aenter__(self) -> TableFlush:
        self.task = asyncio.create_task(self._flush_idle(), name="table flush")
        self.task.add_done_callback(self._ended)
        return self

    def _ended(self, task: asyncio.Task[None]) -> None:
        """A flush that fails leaves events unacknowledged forever: stop the worker instead."""
        if not task.cancelled() and task.exception() is not None:
            self.on_error(task.exception())  # type: ignore[arg-type]

    async def __aexit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
