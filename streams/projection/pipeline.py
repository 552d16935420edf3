"""Overlapped projection: the ledger first, then every other store, committed in order.

A batch goes to the ledger's lane (SQL), which applies it and marks its canonical events;
then to one lane per other store (Redis, Mongo), side by side; a committer takes batches
in fetch order, waits until every lane holds one, and runs `on_committed` (tables, then
acknowledging the offsets). Batches that queue behind a slow write are merged into one
bigger write. At most `max_inflight` batches are open.

Inside a lane, errors are handled by kind (streams.errors): a transient one is retried with
capped, jittered backoff for as long as it lasts; a poison one is narrowed down by splitting
the batch until the single refused event is found, which is dead-lettered with the store's
reason while the rest is applied; a store that is behind (lost writes, or new) catches up
from the log first. A task that ends, a failing `on_committed`, or a worker that has open
batches but has committed nothing for `stall_timeout_s` breaks the pipeline: `submit`,
`drain` and `check` then raise, so the worker stops loudly instead of running half-dead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from squidstream.backoff import Backoff
from streams.errors import PoisonError, SinkError, StoreBehind, StreamsError, WorkerStalled
from streams.projection.batch import Batch, Span, split
from streams.projection.decode import Event
from streams.sinks import Ledger, Projection

log = logging.getLogger(__name__)
T = TypeVar("T")
# Quarantine one event a store refused: (store name, event, reason).
Quarantine = Callable[[str, Event, str], Awaitable[None]]
# The batches that fill a store's gap: (store, partition, from offset, to offset).
CatchUp = Callable[[Projection, int, int, int], AsyncIterator[Batch]]


class PipelineBroken(StreamsError):
    """A store lane or the committer stopped: nothing after it could ever commit."""


@dataclass
class LaneState:
    """What a lane is doing, for logs, metrics and the stall report."""

    writes: int = 0
    events: int = 0
    busy_s: float = 0.0
    retries: int = 0
    poison: int = 0
    last_error: str = ""
    # The offset after the last record this store holds, per partition (for its lag).
    applied: dict[int, int] = field(default_factory=dict)

    def advance(self, batch: Batch) -> None:
        for partition, span in batch.spans.items():
            self.applied[partition] = max(self.applied.get(partition, 0), span.next)


def merge(batches: Sequence[Batch]) -> Batch:
    """Batches that follow each other in the log as one write (spans joined per partition).

    A span joins from the lowest first to the highest next: an empty probe batch at an older
    offset, or a re-delivery after a rebalance, can come after a batch further on.
    """
    if len(batches) == 1:
        return batches[0]
    spans: dict[int, Span] = {}
    for batch in batches:
        for partition, span in batch.spans.items():
            earlier = spans.get(partition)
            if earlier is None:
                spans[partition] = span
            else:
                spans[partition] = Span(
                    min(earlier.first, span.first),
                    max(earlier.next, span.next),
                    max(earlier.last_timestamp_ms, span.last_timestamp_ms),
                )
    return Batch(
        _once_per_offset(e for b in batches for e in b.events),
        [],
        spans,
        sum(b.records for b in batches),
        _once_per_offset(e for b in batches for e in b.canonical),
        [h for b in batches for h in b.handles],
        min(b.fetched_at for b in batches),
        [a for b in batches for a in b.anchors],
    )


def _once_per_offset(events: Iterable[Event]) -> list[Event]:
    """Each log position once: after a rebalance Faust re-delivers from the committed offset,
    so batches merged into one write can overlap, and a store would count the overlap twice."""
    seen: set[tuple[int, int]] = set()
    kept = []
    for event in events:
        if (event.partition, event.offset) not in seen:
            seen.add((event.partition, event.offset))
            kept.append(event)
    return kept


class Lane:
    """One store's queue of batches, applied in order, exactly once, whatever fails."""

    def __init__(
        self,
        store: Projection,
        *,
        max_events: int,
        quarantine: Quarantine,
        catch_up: CatchUp,
        then: Callable[[Batch], None],
        is_ledger: bool = False,
    ) -> None:
        self.store = store
        self.is_ledger = is_ledger
        self.max_events = max_events
        self.queue: asyncio.Queue[Batch] = asyncio.Queue()
        self.state = LaneState()
        self._quarantine = quarantine
        self._catch_up = catch_up
        self._then = then

    @property
    def name(self) -> str:
        return self.store.name

    async def run(self) -> None:
        while True:
            group = [await self.queue.get()]
            size = len(group[0].events)
            while not self.queue.empty() and size < self.max_events:
                group.append(self.queue.get_nowait())
                size += len(group[-1].events)
            merged = merge(group)
            started = time.perf_counter()
            await self.apply(merged)
            self.state.busy_s += time.perf_counter() - started
            self.state.writes += 1
            self.state.events += len(merged.events)
            self.state.advance(merged)
            if merged is not group[0] and self.is_ledger:  # each batch's share of canonical
                canonical = {(e.partition, e.offset) for e in merged.canonical}
                for batch in group:
                    batch.canonical = [
                        e for e in batch.events if (e.partition, e.offset) in canonical
                    ]
            for batch in group:
                self._then(batch)

    async def apply(self, batch: Batch) -> None:
        """Apply with retries; split around poison; catch up first when behind."""
        try:
            await self._apply_retrying(batch)
        except PoisonError as exc:
            halves = split(batch)
            if halves is None:
                await self._drop_poison(batch, str(exc))
                return
            for half in halves:
                await self.apply(half)
            if self.is_ledger:
                batch.canonical = [e for half in halves for e in half.canonical]

    async def _apply_retrying(self, batch: Batch) -> None:
        backoff = Backoff()
        while True:
            try:
                await self.store.apply(batch)
                self.state.last_error = ""
                return
            except SinkError as exc:
                self.state.retries += 1
                self.state.last_error = str(exc)
                delay = backoff.next_delay()
                log.warning("%s failed (%s); retrying in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
            except StoreBehind as exc:
                self.state.last_error = str(exc)
                log.warning("%s; catching up from the log", exc)
                gap = self._catch_up(self.store, exc.partition, exc.applied_next, exc.first)
                async for missing in gap:
                    await self.apply(missing)

    async def _drop_poison(self, batch: Batch, reason: str) -> None:
        """Dead-letter the one refused event, then apply the batch's offsets without it."""
        (event,) = batch.events  # split() narrows a refused batch down to one event
        self.state.poison += 1
        await self._quarantine(self.name, event, reason)
        rest = Batch(
            [e for e in batch.events if e is not event],
            [],
            batch.spans,
            batch.records,
            [e for e in batch.canonical if e is not event],
        )
        await self._apply_retrying(rest)
        if self.is_ledger:
            batch.canonical = rest.canonical


class Pipeline:
    """Bounded in-flight batches: the ledger, then the other stores, committed in order."""

    def __init__(
        self,
        ledger: Ledger,
        stores: Sequence[Projection],
        on_committed: Callable[[Batch], Awaitable[None]],
        *,
        quarantine: Quarantine,
        catch_up: CatchUp,
        max_inflight: int = 4,
        max_events: int = 5000,
        stall_timeout_s: float = 120.0,
        on_broken: Callable[[BaseException], None] = lambda exc: None,
    ) -> None:
        def lane(store: Projection, then: Callable[[Batch], None], is_ledger: bool = False) -> Lane:
            return Lane(
                store,
                max_events=max_events,
                quarantine=quarantine,
                catch_up=catch_up,
                then=then,
                is_ledger=is_ledger,
            )

        self.ledger = lane(ledger, self._ledger_done, is_ledger=True)
        self.followers = [lane(store, self._store_done) for store in stores]
        self.lanes = [self.ledger, *self.followers]
        self._on_broken = on_broken
        self._on_committed = on_committed
        self._stall_timeout_s = stall_timeout_s
        self._slots = asyncio.Semaphore(max_inflight)
        self._order: deque[Batch] = deque()
        self._arrived = asyncio.Event()
        self._pending: dict[int, int] = {}
        self._done: dict[int, asyncio.Event] = {}
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._broken = asyncio.Event()
        self.error: PipelineBroken | None = None
        self.begun = 0
        self.committed = 0
        self.last_commit = time.monotonic()

    async def __aenter__(self) -> Pipeline:
        self._tasks = [
            asyncio.create_task(lane.run(), name=f"lane {lane.name}") for lane in self.lanes
        ]
        self._tasks.append(asyncio.create_task(self._commit_loop(), name="committer"))
        self._tasks.append(asyncio.create_task(self._watch_stalls(), name="stall watch"))
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
        self.error = PipelineBroken(f"pipeline task {task.get_name()!r} ended: {cause}")
        self.error.__cause__ = cause
        self._broken.set()
        self._on_broken(self.error)

    def check(self) -> None:
        """Raise PipelineBroken if a lane or the committer has stopped."""
        if self.error is not None:
            raise self.error

    async def _unless_broken(self, awaitable: Awaitable[T]) -> T:
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
        """Hand a begun batch to the ledger; waits while max_inflight batches are open."""
        await self._unless_broken(self._slots.acquire())
        key = id(batch)
        self._done[key] = asyncio.Event()
        self._pending[key] = len(self.followers)
        self.ledger.queue.put_nowait(batch)
        self._order.append(batch)
        self._arrived.set()

    def _ledger_done(self, batch: Batch) -> None:
        if not self.followers:
            self._done[id(batch)].set()
        for lane in self.followers:
            lane.queue.put_nowait(batch)

    def _store_done(self, batch: Batch) -> None:
        key = id(batch)
        self._pending[key] -= 1
        if self._pending[key] <= 0:
            self._done[key].set()

    async def drain(self) -> None:
        """Wait until every begun batch is committed (before partitions are given away)."""
        await self._unless_broken(self._drained())

    async def _drained(self) -> None:
        async with self._progress:
            await self._progress.wait_for(lambda: self.committed >= self.begun)

    async def _commit_loop(self) -> None:
        while True:
            while not self._order:
                self._arrived.clear()
                await self._arrived.wait()
            await self._done[id(self._order[0])].wait()
            group = [self._order.popleft()]
            # Batches behind it that every store already holds commit with it, as one: the
            # tables then write each key once for all of them.
            while self._order and self._done[id(self._order[0])].is_set():
                group.append(self._order.popleft())
            for batch in group:
                del self._done[id(batch)], self._pending[id(batch)]
            await self._on_committed(merge(group))  # an error here breaks the pipeline: no ack
            for _ in group:
                self._slots.release()
            async with self._progress:
                self.committed += len(group)
                self.last_commit = time.monotonic()
                self._progress.notify_all()

    async def _watch_stalls(self) -> None:
        """Stop the worker when it has open batches but has committed nothing for too long."""
        while True:
            await asyncio.sleep(min(5.0, self._stall_timeout_s / 4))
            idle_s = time.monotonic() - self.last_commit
            if self.begun > self.committed and idle_s > self._stall_timeout_s:
                raise WorkerStalled(
                    f"no batch committed for {idle_s:.0f}s with {self.begun - self.committed} "
                    f"open; held by {self.holder()}"
                )

    def holder(self) -> str:
        """The store the oldest open batch waits for, with its last error."""
        for lane in self.lanes:
            if lane.state.last_error or not lane.queue.empty():
                return f"{lane.name} ({lane.state.last_error or 'busy'})"
        return "the committer (tables or offset acknowledgement)"
