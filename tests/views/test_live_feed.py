"""The live feed polls counters, pushes a snapshot on change, and never blocks on a slow client."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import MutableMapping

import httpx
import pytest
from fastapi import FastAPI

from squidstream.settings import Settings
from views.app import create_app
from views.errors import LiveFeedFull, StoreUnavailable
from views.live import QUEUE_SIZE, LiveFeed
from views.metrics import Metrics


class Counters:
    """A store's counters as the test sets them; `down` makes it fail like a driver error."""

    def __init__(self, store: str, events: int = 0, projected_at_ms: int | None = None) -> None:
        self.store = store
        self.value = events
        self.projected = projected_at_ms
        self.down = False

    async def events(self) -> int:
        if self.down:
            raise StoreUnavailable(self.store, "connection refused")
        return self.value

    async def projected_at_ms(self) -> int | None:
        return self.projected


def feed_of(*stores: Counters, routes: dict[str, int] | None = None) -> LiveFeed:
    async def read_routes() -> dict[str, int]:
        return dict(routes or {})

    return LiveFeed(stores, read_routes, Metrics(), interval_s=0.01)


@pytest.mark.asyncio
async def test_a_snapshot_carries_each_stores_count_and_lag() -> None:
    redis, sql = Counters("redis", 5, projected_at_ms=1_000), Counters("sql", 3)
    feed = feed_of(redis, sql, routes={"kafka": 5})

    snapshot = await feed.poll()

    assert snapshot.events == {"redis": 5, "sql": 3}
    assert snapshot.routes == {"kafka": 5}
    assert snapshot.lag_ms["sql"] is None
    assert snapshot.lag_ms["redis"] == snapshot.as_of_ms - 1_000


@pytest.mark.asyncio
async def test_a_store_that_is_down_shows_as_unknown_and_the_others_still_count() -> None:
    redis, sql = Counters("redis", 5), Counters("sql", 3)
    sql.down = True

    snapshot = await feed_of(redis, sql).poll()

    assert snapshot.events == {"redis": 5, "sql": None}


@pytest.mark.asyncio
async def test_the_rate_is_the_redis_count_increase_per_second() -> None:
    redis = Counters("redis", 0)
    feed = feed_of(redis)
    await feed.poll()
    redis.value = 1_000_000

    snapshot = await feed.poll()

    assert snapshot.events_per_s > 0


@pytest.mark.asyncio
async def test_subscribers_get_a_snapshot_only_when_counters_change() -> None:
    redis = Counters("redis", 1)
    feed = feed_of(redis)
    with feed.subscribe() as queue:
        for _ in range(3):
            await feed.tick()
        unchanged = [queue.get_nowait().events["redis"] for _ in range(queue.qsize())]
        redis.value = 2
        await feed.tick()
        changed = queue.get_nowait().events["redis"]

    assert unchanged == [1]
    assert changed == 2


@pytest.mark.asyncio
async def test_a_slow_subscriber_keeps_only_the_newest_snapshots() -> None:
    redis = Counters("redis")
    feed = feed_of(redis)
    with feed.subscribe() as queue:
        for value in range(QUEUE_SIZE + 5):
            redis.value = value
            await feed.tick()
        kept = [queue.get_nowait().events["redis"] for _ in range(queue.qsize())]

    assert kept == list(range(5, QUEUE_SIZE + 5))


@pytest.mark.asyncio
async def test_the_stream_sends_the_latest_snapshot_first_as_a_server_sent_event() -> None:
    feed = feed_of(Counters("redis", 42))
    await feed.tick()
    stream = feed.stream()

    first = await anext(stream)
    second = await anext(stream)
    await stream.aclose()

    assert first.retry is not None
    assert second.event == "snapshot"
    assert second.data.events["redis"] == 42


async def read_live_route(app: FastAPI, until: bytes) -> bytes:
    """GET /api/live straight through ASGI until `until` arrives, then leave like a browser."""
    left, body = asyncio.Event(), bytearray()
    requests: list[dict[str, object]] = [{"type": "http.request"}]
    scope: dict[str, object] = {"type": "http", "http_version": "1.1", "method": "GET"}
    scope |= {"path": "/api/live", "raw_path": b"/api/live", "query_string": b"", "headers": []}

    async def receive() -> dict[str, object]:
        if requests:
            return requests.pop()
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, object]) -> None:
        chunk = message.get("body", b"")
        body.extend(chunk if isinstance(chunk, bytes) else b"")
        if until in body:
            left.set()

    await asyncio.wait_for(app(scope, receive, send), 5.0)
    return bytes(body)


@pytest.mark.asyncio
async def test_the_live_route_frames_snapshots_and_frees_the_slot_when_the_client_leaves(
    offline_settings: Settings,
) -> None:
    settings = offline_settings.model_copy(update={"views_live_max_subscribers": 1})
    app = create_app(settings, live_interval_s=0.01)
    async with app.router.lifespan_context(app):
        body = await read_live_route(app, until=b"event: snapshot\ndata: ")
        with app.state.live.subscribe():  # the slot is free again
            pass

    retry, snapshot = body.decode().split("\n\n")[:2]
    assert retry == "retry: 2000"
    event, data = snapshot.split("\n")
    assert event == "event: snapshot"
    assert json.loads(data.removeprefix("data: "))["as_of_ms"] > 0


class SlowCounters(Counters):
    """A store whose count takes longer than a poll, like FerretDB on a large collection."""

    def __init__(self, store: str, events: int) -> None:
        super().__init__(store, events)
        self.release = asyncio.Event()
        self.reads = 0

    async def events(self) -> int:
        self.reads += 1
        await self.release.wait()
        return self.value


@pytest.mark.asyncio
async def test_a_slow_store_neither_stalls_the_feed_nor_gets_a_second_read_in_flight() -> None:
    redis, mongo = Counters("redis", 5), SlowCounters("mongo", 7)
    feed = feed_of(redis, mongo)

    first = await asyncio.wait_for(feed.poll(), 1.0)
    redis.value = 6
    second = await asyncio.wait_for(feed.poll(), 1.0)
    mongo.release.set()
    await asyncio.sleep(0)
    third = await feed.poll()

    assert first.events == {"redis": 5, "mongo": None}
    assert second.events == {"redis": 6, "mongo": None}
    assert third.events == {"redis": 6, "mongo": 7}
    assert mongo.reads == 1


def capped_feed(limit: int) -> LiveFeed:
    async def no_routes() -> dict[str, int]:
        return {}

    return LiveFeed([Counters("redis")], no_routes, Metrics(), 0.01, max_subscribers=limit)


@pytest.mark.asyncio
async def test_a_subscriber_beyond_the_cap_is_refused_and_a_freed_slot_is_reused() -> None:
    feed = capped_feed(2)
    first, second = feed.stream(), feed.stream()
    await anext(first)
    with pytest.raises(LiveFeedFull), feed.subscribe():
        pass
    with pytest.raises(LiveFeedFull):
        feed.stream()
    await first.aclose()
    third = feed.stream()
    await anext(third)
    await third.aclose()
    await second.aclose()


@pytest.mark.asyncio
async def test_a_stream_never_started_frees_its_slot_when_dropped() -> None:
    feed = capped_feed(1)
    unstarted = feed.stream()  # as when the client leaves before the response starts
    del unstarted
    gc.collect()
    with feed.subscribe() as queue:
        assert queue.empty()


@pytest.mark.asyncio
async def test_the_live_route_answers_503_when_the_feed_is_full(offline_settings: Settings) -> None:
    app = create_app(offline_settings.model_copy(update={"views_live_max_subscribers": 1}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://views") as client,
    ):
        held = app.state.live.stream()
        response = await client.get("/api/live")
        await held.aclose()
    assert response.status_code == 503
    assert "maximum of 1 subscribers" in response.json()["detail"]
