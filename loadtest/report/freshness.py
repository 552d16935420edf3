"""End-to-end freshness: from the gateway's acceptance of a game to its visibility in a store.

Load is offered open-loop on a PlayStream (one batch every TICK_S, whatever the replies do),
and every PROBE_S one unary game is a probe: its acceptance time is when its reply arrives,
its visibility time the first poll that finds its event id in a store: SQL `game_results`
by key, the Mongo audit log by `_id` (the one lookup FerretDB serves by key), and in Redis
the list of the 10 newest games with PROBE_PLAYERS players, a size the load never uses, so
only probes (10 a second) enter it. Polls run every POLL_S per store, so each figure is an
upper bound by up to that interval.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiomysql
import grpc
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from loadtest.bench import PLAY, PLAY_STREAM
from loadtest.report.stats import Latency, rate
from loadtest.traffic import load
from squidstream.grpc_client import gateway_channel
from squidstream.percentiles import percentile
from squidstream.proto import game_pb2
from squidstream.settings import Settings

TICK_S = 0.05
PROBE_S = 0.1
POLL_S = {"redis": 0.01, "sql": 0.01, "mongo": 0.05}
STORES = tuple(POLL_S)
PROBE_PLAYERS = 99


@dataclass(frozen=True, slots=True)
class FreshnessPoint:
    route: str
    offered_per_s: int
    achieved_per_s: float
    seconds: float
    probes: int
    visible: dict[str, Latency | None]  # store -> freshness of the probes it showed
    missing: dict[str, int]  # store -> probes not visible by the end of the wait
    sustained: bool


def sustained(offered: float, achieved: float, first_ms: list[float], last_ms: list[float]) -> bool:
    """Kept up: took 90% of the offered rate and freshness did not grow through the run.

    "Did not grow" compares the medians of the first and last quarter of the probes; a lag
    that builds up doubles it (plus 100 ms of slack for the noise of a busy machine).
    """
    if achieved < 0.9 * offered or not first_ms or not last_ms:
        return False
    return percentile(last_ms, 50) <= 2 * percentile(first_ms, 50) + 100


class _Probes:
    """Accepted probe event ids and when each store first showed them."""

    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}
        self.seen: dict[str, dict[str, float]] = {store: {} for store in STORES}

    def pending(self, store: str) -> list[str]:
        seen = self.seen[store]
        return [event_id for event_id in self.accepted if event_id not in seen]

    def ages_ms(self, store: str) -> list[float]:
        order = sorted(self.accepted, key=self.accepted.__getitem__)
        return [
            (self.seen[store][e] - self.accepted[e]) * 1000 for e in order if e in self.seen[store]
        ]


class _Lookups:
    """One connection per store and a "which of these ids do you hold" question for each."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._redis = aioredis.Redis(
            host=settings.redis_host, port=settings.redis_port, db=settings.redis_db
        )
        self._mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
        self._sql: aiomysql.Connection | None = None

    async def redis(self, ids: list[str]) -> set[str]:
        key = f"{self._settings.redis_prefix}:recent:{PROBE_PLAYERS}"
        shown = {json.loads(doc)["event_id"] for doc in await self._redis.lrange(key, 0, -1)}
        return shown.intersection(ids)

    async def sql(self, ids: list[str]) -> set[str]:
        if self._sql is None:
            s = self._settings
            self._sql = await aiomysql.connect(
                host=s.sql_host,
                port=s.sql_port,
                user=s.sql_user,
                password=s.sql_password.get_secret_value(),
                db=s.sql_database,
                autocommit=True,
            )
        marks = ",".join(["%s"] * len(ids))
        async with self._sql.cursor() as cur:
            await cur.execute(f"SELECT event_id FROM game_results WHERE event_id IN ({marks})", ids)
            return {str(row[0]) for row in await cur.fetchall()}

    async def mongo(self, ids: list[str]) -> set[str]:
        audit = self._mongo[self._settings.mongo_database][self._settings.mongo_collection]
        found = await asyncio.gather(*(audit.find_one({"_id": i}, {"_id": 1}) for i in ids))
        return {str(doc["_id"]) for doc in found if doc is not None}

    async def close(self) -> None:
        await self._redis.aclose()
        await self._mongo.close()
        if self._sql is not None:
            self._sql.close()


async def _watch(
    store: str,
    lookup: Callable[[list[str]], Awaitable[set[str]]],
    probes: _Probes,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        pending = probes.pending(store)
        if pending:
            try:
                held = await lookup(pending[:200])
            except Exception:  # a store not ready yet (schema still being created): poll again
                held = set()
            now = time.perf_counter()
            for event_id in held:
                probes.seen[store][event_id] = now
        await asyncio.sleep(POLL_S[store])


def _not_probe(players: int) -> int:
    return players - 1 if players == PROBE_PLAYERS else players


def _batch(count: int) -> bytes:
    games = load()
    requests = [
        game_pb2.PlayRequest(
            request_id=str(uuid.uuid4()),
            game_id=games[n % len(games)].game_id,
            players=_not_probe(games[n % len(games)].players),
        )
        for n in range(count)
    ]
    return game_pb2.PlayBatch(requests=requests).SerializeToString()


async def _offer(channel: grpc.aio.Channel, per_s: int, seconds: float) -> int:
    """Open-loop load on one stream; returns the accepted count."""
    call: grpc.aio.StreamStreamMultiCallable[bytes, game_pb2.PlayBatchReply]
    call = channel.stream_stream(
        PLAY_STREAM,
        request_serializer=None,
        response_deserializer=game_pb2.PlayBatchReply.FromString,
    )
    stream = call(timeout=seconds + 120)
    ticks = int(seconds / TICK_S)
    per_tick = max(1, round(per_s * TICK_S))
    accepted = 0

    async def read(replies: int) -> None:
        nonlocal accepted
        for _ in range(replies):
            reply = await stream.read()
            assert isinstance(reply, game_pb2.PlayBatchReply)
            accepted += sum(1 for r in reply.results if not r.HasField("error"))

    reader = asyncio.create_task(read(ticks))
    started = time.perf_counter()
    try:
        for n in range(ticks):
            await stream.write(_batch(per_tick))
            await asyncio.sleep(max(0.0, started + (n + 1) * TICK_S - time.perf_counter()))
        await stream.done_writing()
        await reader
    except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
        # A gateway ends a stream that outlasts its deadline (the reader sees the status, a
        # write after it sees a finished call): the rate is more than the gateway takes.
        # What it confirmed still counts, the point shows as not sustained, and the run goes
        # on to the next point instead of losing the whole section.
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return accepted


async def _probe(channel: grpc.aio.Channel, probes: _Probes, seconds: float) -> None:
    play: grpc.aio.UnaryUnaryMultiCallable[bytes, game_pb2.PlayReply]
    play = channel.unary_unary(
        PLAY, request_serializer=None, response_deserializer=game_pb2.PlayReply.FromString
    )
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        request = game_pb2.PlayRequest(
            request_id=str(uuid.uuid4()), game_id=1, players=PROBE_PLAYERS
        )
        tick = time.perf_counter()
        try:
            reply = await play(request.SerializeToString(), timeout=30)
            probes.accepted[reply.event.event_id] = time.perf_counter()
        except grpc.aio.AioRpcError:
            pass  # a refused probe is not a freshness sample; the load's failures show it
        await asyncio.sleep(max(0.0, tick + PROBE_S - time.perf_counter()))


async def measure_point(
    settings: Settings, target: str, route: str, per_s: int, seconds: float, wait_s: float
) -> FreshnessPoint:
    probes, stop = _Probes(), asyncio.Event()
    lookups = _Lookups(settings)
    watchers = [
        asyncio.create_task(_watch(store, getattr(lookups, store), probes, stop))
        for store in STORES
    ]
    try:
        async with gateway_channel(settings, target) as channel:
            started = time.perf_counter()
            accepted, _ = await asyncio.gather(
                _offer(channel, per_s, seconds), _probe(channel, probes, seconds)
            )
            took = time.perf_counter() - started
        await _settle(probes, wait_s)
    finally:
        stop.set()
        await asyncio.gather(*watchers, return_exceptions=True)
        await lookups.close()
    achieved = rate(accepted + len(probes.accepted), took)
    ages = {store: probes.ages_ms(store) for store in STORES}
    quarter = max(1, len(probes.accepted) // 4)
    kept_up = all(
        sustained(per_s, achieved, ages[s][:quarter], ages[s][-quarter:]) and not probes.pending(s)
        for s in STORES
    )
    return FreshnessPoint(
        route=route,
        offered_per_s=per_s,
        achieved_per_s=round(achieved, 1),
        seconds=round(took, 2),
        probes=len(probes.accepted),
        visible={store: Latency.of(ages[store]) for store in STORES},
        missing={store: len(probes.pending(store)) for store in STORES},
        sustained=kept_up,
    )


async def _settle(probes: _Probes, wait_s: float) -> None:
    """Give the stores up to `wait_s` to show the last probes: a lagging store shows late."""
    deadline = time.perf_counter() + wait_s
    for _ in range(int(wait_s / 0.05) + 1):
        if not any(probes.pending(s) for s in STORES) or time.perf_counter() > deadline:
            return
        await asyncio.sleep(0.05)


def highest_sustained(points: list[FreshnessPoint], route: str) -> int | None:
    kept = [p.offered_per_s for p in points if p.route == route and p.sustained]
    return max(kept) if kept else None
