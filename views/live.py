"""Live updates: one background task per app polls cheap counters and fans out snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Sequence

from fastapi.sse import ServerSentEvent

from views.errors import LiveFeedFull, ViewsError
from views.metrics import Metrics
from views.models import LiveSnapshot, now_ms
from views.stores.base import ProjectionCounters

log = logging.getLogger(__name__)
QUEUE_SIZE = 8
RETRY_MS = 2000


async def _or_none(awaitable: Awaitable[int | None]) -> int | None:
    # A store that is down shows as unknown in the live feed; the feed itself keeps going.
    try:
        return await awaitable
    except ViewsError as exc:
        log.debug("live poll: %s", exc)
        return None


class _SingleFlight:
    """At most one read of a counter in flight; a read slower than the poll keeps running.

    Every counter is cheap by design (the audit log's come from the projection's tracking
    documents, never from counting the collection, which took tens of seconds on FerretDB),
    but a store under load can still be slow: waiting for it would stall every snapshot,
    and starting a new read each second would pile them up on the server. A slow read is
    left to finish while polls show its last known value.
    """

    def __init__(self) -> None:
        self._task: asyncio.Future[int | None] | None = None
        self._value: int | None = None

    async def read(self, start: Callable[[], Awaitable[int | None]], wait_s: float) -> int | None:
        task = self._task
        if task is None:
            task = self._task = asyncio.ensure_future(_or_none(start()))
        done, _ = await asyncio.wait({task}, timeout=wait_s)
        if done:
            # Two polls may wait on the same read (the feed's loop and an explicit tick).
            if self._task is task:
                self._task = None
            self._value = task.result()
        return self._value

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


def _lag(at_ms: int, projected_at_ms: int | None) -> int | None:
    return None if projected_at_ms is None else max(0, at_ms - projected_at_ms)


class LiveFeed:
    """Polls the stores once per interval and pushes a snapshot to every subscriber on change."""

    def __init__(
        self,
        stores: Sequence[ProjectionCounters],
        routes: Callable[[], Awaitable[dict[str, int]]],
        metrics: Metrics,
        interval_s: float = 1.0,
        max_subscribers: int = 200,
    ) -> None:
        self._stores = list(stores)
        self._max_subscribers = max_subscribers
        self._routes = routes
        self._metrics = metrics
        self._interval_s = interval_s
        self._subscribers: set[asyncio.Queue[LiveSnapshot]] = set()
        self._last: LiveSnapshot | None = None
        self._last_redis: tuple[int, float] | None = None
        self._events = [_SingleFlight() for _ in self._stores]
        self._projected = [_SingleFlight() for _ in self._stores]

    @property
    def latest(self) -> LiveSnapshot | None:
        return self._last

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; a poll in flight finishes, so no connection is cut."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.tick()
            except Exception:  # the feed must outlive any one bad poll; log it with its cause
                log.exception("live poll failed")
            pause = max(0.0, self._interval_s - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
        for flight in (*self._events, *self._projected):
            flight.cancel()

    async def tick(self) -> None:
        """Poll once; push the snapshot to subscribers if the counters moved."""
        snapshot = await self.poll()
        if self._changed(snapshot):
            self._publish(snapshot)
        self._last = snapshot

    async def poll(self) -> LiveSnapshot:
        stores = self._stores
        names = [store.store for store in stores]
        wait = self._interval_s
        events_reads = zip(self._events, stores, strict=True)
        projected_reads = zip(self._projected, stores, strict=True)
        counts, projected, routes = await asyncio.gather(
            asyncio.gather(*(f.read(s.events, wait) for f, s in events_reads)),
            asyncio.gather(*(f.read(s.projected_at_ms, wait) for f, s in projected_reads)),
            self._safe_routes(),
        )
        at = now_ms()
        lag = dict(zip(names, (_lag(at, p) for p in projected), strict=True))
        events = dict(zip(names, counts, strict=True))
        redis_events = events.get("redis")
        self._record(events, lag)
        return LiveSnapshot(
            as_of_ms=at,
            events=events,
            routes=routes,
            events_per_s=self._rate(redis_events),
            lag_ms=lag,
        )

    async def _safe_routes(self) -> dict[str, int]:
        try:
            return await self._routes()
        except ViewsError as exc:
            log.debug("live poll: routes: %s", exc)
            return {}

    def _rate(self, events: int | None) -> float:
        now = time.monotonic()
        previous, self._last_redis = self._last_redis, (events or 0, now)
        if previous is None or events is None or now <= previous[1]:
            return 0.0
        return round(max(0, events - previous[0]) / (now - previous[1]), 1)

    def _record(self, events: dict[str, int | None], lag: dict[str, int | None]) -> None:
        for store, value in events.items():
            if value is not None:
                self._metrics.events.labels(store).set(value)
        for store, value in lag.items():
            if value is not None:
                self._metrics.projection_lag.labels(store).set(value)

    def _changed(self, snapshot: LiveSnapshot) -> bool:
        if self._last is None:
            return True
        ignore = {"as_of_ms", "lag_ms"}
        return snapshot.model_dump(exclude=ignore) != self._last.model_dump(exclude=ignore)

    def _publish(self, snapshot: LiveSnapshot) -> None:
        for queue in self._subscribers:
            if queue.full():
                # A slow browser loses its oldest snapshot, never blocks the feed or others.
                queue.get_nowait()
            queue.put_nowait(snapshot)

    def _add_subscriber(self) -> asyncio.Queue[LiveSnapshot]:
        if len(self._subscribers) >= self._max_subscribers:
            raise LiveFeedFull(self._max_subscribers)
        queue: asyncio.Queue[LiveSnapshot] = asyncio.Queue(maxsize=QUEUE_SIZE)
        if self._last is not None:
            queue.put_nowait(self._last)
        self._subscribers.add(queue)
        self._metrics.live_subscribers.set(len(self._subscribers))
        return queue

    def _remove_subscriber(self, queue: asyncio.Queue[LiveSnapshot]) -> None:
        self._subscribers.discard(queue)
        self._metrics.live_subscribers.set(len(self._subscribers))

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[LiveSnapshot]]:
        """A queue of snapshots while inside; LiveFeedFull at once when the feed is full."""
        queue = self._add_subscriber()
        try:
            yield queue
        finally:
            self._remove_subscriber(queue)

    def stream(self) -> AsyncGenerator[ServerSentEvent, None]:
        """Server-sent events for one browser: a `snapshot` event per change.

        FastAPI's EventSourceResponse frames them and adds the keep-alive comments. The slot
        is taken now, so a full feed is refused (LiveFeedFull) before the response starts.
        A stream the server never starts (its client left first) never runs its `finally`;
        the finalizer frees its slot when the generator is collected.
        """
        queue = self._add_subscriber()
        events = self._sse(queue)
        weakref.finalize(events, self._remove_subscriber, queue)
        return events

    async def _sse(
        self, queue: asyncio.Queue[LiveSnapshot]
    ) -> AsyncGenerator[ServerSentEvent, None]:
        try:
            yield ServerSentEvent(retry=RETRY_MS)
            while True:
                yield ServerSentEvent(event="snapshot", data=await queue.get())
        finally:
            self._remove_subscriber(queue)
