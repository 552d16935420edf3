"""Overlapped projection: fetch and decode batch N+1 while the stores still write batch N.

Each store has its own lane that applies batches in arrival order (merging batches that
queued up behind a slow write into one bigger write), so the three stores run side by side
and the slowest one sets the pace. A committer takes batches in fetch order, waits until all
three lanes hold a batch, then runs `on_committed` (table deltas, Kafka offset commit).
Offsets therefore advance strictly in order and only past batches every store committed; at
most `max_inflight` batches are open, which bounds memory and the re-delivery after a crash.
A lane or committer task that ends breaks the pipeline: `submit`, `drain` and `check` then
raise PipelineBroken instead of waiting forever, so the worker fails loudly, never half-dead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from aiokafka import ConsumerRecord, TopicPartition

from streams.decode import DeadLetter, Event, decode
from streams.errors import StreamsError
from streams.fold import Deltas, by_partition, fold, unique
from streams.sinks import Projection

log = logging.getLogger(__name__)
FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 10.0
Fetched = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
T = TypeVar("T")


class PipelineBroken(StreamsError):
    """A store lane or the committer stopped: nothing after it could ever commit."""


@dataclass(slots=True)
class Batch:
    """Decoded events of one fetch, the offsets to commit after it, its per-partition deltas."""

    events: list[Event]
    offsets: dict[TopicPartition, int]
    timestamps: dict[int, int]
    records: int
    deltas: dict[int, Deltas] = field(default_factory=dict)
    pending: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def store_done(self) -> None:
        self.pending -= 1
        if self.pending <= 0:
            self.done.set()


def make_batch(fetched: Fetched) -> tuple[Batch, list[DeadLetter]]:
    """Decode a getmany() answer; undecodable records become dead letters."""
    events: list[Event] = []
    letters: list[DeadLetter] = []
    offsets: dict[TopicPartition, int] = {}
    timestamps: dict[int, int] = {}
    records = 0
    for tp, batch in fetched.items():
        if not batch:
            continue
        records += len(batch)
        offsets[tp] = batch[-1].offset + 1
        timestamps[tp.partition] = max(record.timestamp for record in batch)
        for record in batch:
            decoded = decode(record.value, record.partition, record.offset)
            if isinstance(decoded, Event):
                events.append(decoded)
            else:
                letters.append(decoded)
    kept = unique(events)
    deltas = {partition: fold(group) for partition, group in by_partition(kept).items()}
    return Batch(kept, offsets, timestamps, records, deltas), letters


async def apply_until_done(projection: Projection, events: Sequence[Event]) -> None:
    """Retry one store with backoff until it took the events (each store is idempotent)."""
    delay = FIRST_BACKOFF_S
    while True:
        try:
            await projection.apply(events)
            return
        except Exception as exc:  # a store being down is retried, never fatal
            log.warning("%s failed (%s); retrying in %.1fs", projection.name, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)


class Lane:
    """One store's queue: batches in order, those waiting behind a write merged into one."""

    def __init__(self, projection: Projection, max_events: int) -> None:
        self.projection = projection
        self.max_events = max_events
        self.queue: asyncio.Queue[Batch] = asyncio.Queue()
        self.writes = 0
        self.events = 0
        self.busy_s = 0.0

    async def run(self) -> None:
        while True:
            group = [await self.queue.get()]
            size = len(group[0].events)
            while not self.queue.empty() and size < self.max_events:
                group.append(self.queue.get_nowait())
                size += len(group[-1].events)
            events = group[0].events if len(group) == 1 else unique(_chain(group))
            started = time.perf_counter()
            await apply_until_done(self.projection, events)
            self.busy_s += time.perf_counter() - started
            self.writes += 1
            self.events += len(events)
            for batch in group:
                batch.store_done()


def _chain(batches: Sequence[Batch]) -> Iterator[Event]:
    for batch in batches:
        yield from batch.events


class Pipeline:
    """Bounded in-flight batches over one lane per store, committed strictly in fetch order."""

    def __init__(
        self,
        projections: Sequence[Projection],
        on_committed: Callable[[Batch], Awaitable[None]],
        max_inflight: int = 4,
        max_events: int = 5000,
    ) -> None:
        self.lanes = [Lane(projection, max_events) for projection in projections]
        self._on_committed = on_committed
        self._slots = asyncio.Semaphore(max_inflight)
        self._order: asyncio.Queue[Batch] = asyncio.Queue()
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._broken = asyncio.Event()
        self.error: PipelineBroken | None = None
        self.begun = 0
        self.committed = 0

    async def __aenter__(self) -> Pipeline:
        self._tasks = [
            asyncio.create_task(lane.run(), name=f"lane {lane.projection.name}")
            for lane in self.lanes
        ]
        self._tasks.append(asyncio.create_task(self._commit_loop(), name="committer"))
        for task in self._tasks:
            task.add_done_callback(self._task_ended)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """Every task runs until __aexit__; one that ends earlier breaks the pipeline."""
        if self._closing or self.error is not None:
            return
        cause = None if task.cancelled() else task.exception()
        self.error = PipelineBroken(f"pipeline task {task.get_name()!r} ended: {cause!r}")
        self.error.__cause__ = cause
        self._broken.set()

    def check(self) -> None:
        """Raise PipelineBroken if a lane or the committer has stopped."""
        if self.error is not None:
            raise self.error

    async def _unless_broken(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable`, but raise PipelineBroken as soon as the pipeline breaks."""
        waiting = asyncio.ensure_future(awaitable)
        broken = asyncio.create_task(self._broken.wait())
        try:
            await asyncio.wait([waiting, broken], return_when=asyncio.FIRST_COMPLETED)
        finally:
            broken.cancel()
            if not waiting.done():
                waiting.cancel()
        self.check()
        return waiting.result()

    def begin(self) -> None:
        """Count a fetched batch before it is decoded, so drain() waits for it too."""
        self.begun += 1

    async def submit(self, batch: Batch) -> None:
        """Hand a begun batch to the lanes; waits while max_inflight batches are open."""
        await self._unless_broken(self._slots.acquire())
        if batch.events:
            batch.pending = len(self.lanes)
            for lane in self.lanes:
                lane.queue.put_nowait(batch)
        else:
            batch.done.set()
        self._order.put_nowait(batch)

    async def drain(self) -> None:
        """Wait until every begun batch is committed (before partitions are given away)."""
        await self._unless_broken(self._drained())

    async def _drained(self) -> None:
        async with self._progress:
            await self._progress.wait_for(lambda: self.committed >= self.begun)

    async def _commit_loop(self) -> None:
        while True:
            batch = await self._order.get()
            await batch.done.wait()
            try:
                await self._on_committed(batch)
            except Exception as exc:  # never stall the pipeline; re-delivery is absorbed
                log.warning("after-commit step failed: %s", exc)
            self._slots.release()
            async with self._progress:
                self.committed += 1
                self._progress.notify_all()
