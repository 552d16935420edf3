"""The projection consumer: a batched aiokafka group consumer run as a task of the Faust worker.

Why not a Faust agent: on this machine (2 cores, load ~7) an agent that only *counts* events
with `take_events(2000)` on a preloaded topic drains 6,140 ev/s (`noack_take` 5,930 ev/s),
while a bare aiokafka `getmany` drains ~230,000 ev/s. Faust's per-event stream machinery alone
is as slow as the slowest store (FerretDB, ~6,000 ev/s) and competes with it for CPU, so the
agent version of the worker managed ~1,400 ev/s. This consumer reads with `getmany` in the
consumer group `{faust_app_id}-projector` (partitions shared among worker processes), overlaps
fetch+decode with the store writes (streams.pipeline), and commits offsets only after all three
stores committed a batch. The Faust app keeps its tables, changelogs and web page: after each
batch, per-partition deltas go to the small `{events_topic}-table-deltas` topic (partition =
source partition), and a Faust agent folds them into the tables (streams.agents).
Measured with `squidstream bench streams` (200,000 events, load average 4-6 from other work):
this worker 5,511 and 2,821 ev/s in two runs, i.e. 0.61 and 0.56 of FerretDB's rate alone
(9,014 and 5,047 ev/s), the slowest store and the cap; the agent version did ~1,400 ev/s.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from squidstream.settings import Settings
from streams.deadletter import DeadLetters, new_producer
from streams.fold import Deltas
from streams.pipeline import Batch, Pipeline, PipelineBroken, make_batch
from streams.project import close_projections, open_projections_retrying
from streams.topics import deltas_topic

log = logging.getLogger(__name__)
# Batches open at once; each store merges what queued behind it, up to MAX_WRITE_EVENTS.
MAX_INFLIGHT = 4
MAX_WRITE_EVENTS = 5000


def group_id(settings: Settings) -> str:
    return f"{settings.faust_app_id}-projector"


def deltas_json(deltas: Deltas) -> bytes:
    """One partition's share of a batch, as the table agent reads it."""
    body = {
        "wins": {str(k): v for k, v in deltas.wins.items()},
        "sizes": {str(k): v for k, v in deltas.sizes.items()},
        "games": {str(k): v for k, v in deltas.games.items()},
        "routes": dict(deltas.routes),
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class WorkerStats:
    """Counts this worker process has seen since it started (served on its web page)."""

    batches: int = 0
    projected: int = 0
    dead_letters: int = 0


def new_consumer(settings: Settings) -> AIOKafkaConsumer:
    session_ms = int(settings.consumer_session_timeout_s * 1000)
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=session_ms,
        heartbeat_interval_ms=max(1000, session_ms // 4),
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
    )


class DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions move to another worker, commit every batch already fetched."""

    def __init__(self, pipeline: Pipeline, timeout_s: float) -> None:
        self._pipeline = pipeline
        self._timeout_s = timeout_s

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        try:
            await asyncio.wait_for(self._pipeline.drain(), self._timeout_s)
        except TimeoutError:
            # A store is down: give the partitions up anyway; the new owner re-delivers, and
            # the stores' de-duplication absorbs whatever this worker still writes.
            log.warning("rebalance: %d batches not committed in time", self._pipeline.begun)
        except PipelineBroken as exc:  # the fetch loop raises it too and stops the worker
            log.error("rebalance: %s", exc)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("projecting partitions %s", sorted(tp.partition for tp in assigned))


class ProjectionConsumer:
    """Consume game-events in batches and project them; run it with `app.task(run)`."""

    def __init__(self, settings: Settings, stats: WorkerStats) -> None:
        self.settings = settings
        self.stats = stats
        self.pipeline: Pipeline | None = None

    async def run(self) -> None:
        settings = self.settings
        projections = await open_projections_retrying(settings)
        producer = new_producer(settings)
        await producer.start()
        consumer = new_consumer(settings)
        dead_letters = DeadLetters(producer, settings)
        try:
            await consumer.start()

            async def on_committed(batch: Batch) -> None:
                await self._committed(consumer, producer, batch)

            pipeline = Pipeline(projections, on_committed, MAX_INFLIGHT, MAX_WRITE_EVENTS)
            self.pipeline = pipeline
            listener = DrainOnRevoke(pipeline, settings.consumer_session_timeout_s)
            consumer.subscribe([settings.events_topic], listener=listener)
            async with pipeline:
                await self._fetch_loop(consumer, pipeline, dead_letters)
        finally:
            await consumer.stop()
            await producer.stop()
            await close_projections(projections)

    async def _fetch_loop(
        self, consumer: AIOKafkaConsumer, pipeline: Pipeline, dead_letters: DeadLetters
    ) -> None:
        settings = self.settings
        timeout_ms = int(settings.batch_timeout_s * 1000)
        while True:
            pipeline.check()
            fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=settings.batch_size)
            if not any(fetched.values()):
                continue
            pipeline.begin()
            batch, letters = make_batch(fetched)
            if letters:
                await dead_letters.send(letters, settings.events_topic)
                self.stats.dead_letters = dead_letters.count
            await pipeline.submit(batch)

    async def _committed(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, batch: Batch
    ) -> None:
        """All stores hold the batch: send table deltas, then commit its offsets."""
        try:
            futures = [
                await producer.send(
                    deltas_topic(self.settings),
                    deltas_json(deltas),
                    partition=partition,
                    timestamp_ms=batch.timestamps.get(partition),
                )
                for partition, deltas in batch.deltas.items()
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:  # tables are approximate; the stores are the record
            log.warning("table deltas of a batch were not sent: %s", exc)
        owned = consumer.assignment()
        offsets = {tp: offset for tp, offset in batch.offsets.items() if tp in owned}
        try:
            if offsets:
                await consumer.commit(offsets)
        except KafkaError as exc:
            # A rebalance took the partitions: the new owner re-delivers, the stores dedupe.
            log.warning("offset commit failed (%s); the batch will be re-delivered", exc)
        self.stats.batches += 1
        self.stats.projected += len(batch.events)
