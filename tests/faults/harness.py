"""The fault suite's harness: the whole pipeline, a client flood with retries, and the check.

`Pipeline` runs both gateways, the ingress and N workers as real processes on a private
stack. `Flood` plays games through the ingress the way a demanding client does: request ids
of every valid length, retries of accepted ids (half of them pinned to the other route),
invalid requests mixed in, and every 502/503/504 or lost connection retried with the same
request id until it gets a definite answer. `check` then compares what clients were told
with every store and table.
"""

from __future__ import annotations

import asyncio
import random
import string
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from loadtest.processes import Child, wait_http, wait_serving
from squidstream.contract import REQUEST_ID_MAX_CHARS, event_id_for
from squidstream.settings import Settings
from streams.sinks.mongo import TRACKING_COLLECTION
from tests.helpers import free_port, isolated_settings, sql_connect, worker_pages

RETRYABLE = {502, 503, 504}
UNICODE = "éßøλжあ😀"
# Probe games have a player count the flood never uses, so their Redis list is theirs alone.
PROBE_PLAYERS = 777


def pipeline_settings(stack: Settings, name: str, weights: tuple[int, int]) -> Settings:
    return isolated_settings(stack, name).model_copy(
        update={
            "gateway_kafka_port": free_port(),
            "gateway_rabbitmq_port": free_port(),
            "gateway_kafka_metrics_port": free_port(),
            "gateway_rabbitmq_metrics_port": free_port(),
            "ingress_port": free_port(),
            "route_weight_kafka": weights[0],
            "route_weight_rabbitmq": weights[1],
            "broker_timeout_s": 3.0,
            "store_timeout_s": 5.0,
            "reservation_lease_s": 5.0,
        }
    )


class Pipeline:
    """Gateways, ingress and workers of one test, restartable one by one."""

    def __init__(self, settings: Settings, log_dir: Path, workers: int = 1) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.env = settings.as_env()
        self.worker_ports = [settings.faust_web_port + i * 7 for i in range(workers)]
        self.gateways: dict[str, Child] = {}
        self.workers: list[Child] = []
        self.ingress: Child | None = None
        self.starts = Counter[str]()

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingress_port}"

    def worker_settings(self, index: int) -> Settings:
        return self.settings.model_copy(update={"faust_web_port": self.worker_ports[index]})

    def _child(self, name: str, args: Sequence[str], env: dict[str, str] | None = None) -> Child:
        self.starts[name] += 1
        log = self.log_dir / f"{name}-{self.starts[name]}.log"
        return Child(args, {**self.env, **(env or {})}, log, cwd=self.log_dir).start()

    async def start_gateway(self, route: str) -> None:
        self.gateways[route] = self._child(f"gateway-{route}", ["gateway", route])
        target = (
            self.settings.kafka_gateway_target
            if route == "kafka"
            else self.settings.rabbitmq_gateway_target
        )
        await wait_serving(self.gateways[route], target)

    async def start_worker(self, index: int) -> None:
        port = self.worker_ports[index]
        child = self._child(f"worker-{index}", ["worker"], {"SQUID_FAUST_WEB_PORT": str(port)})
        if index < len(self.workers):
            self.workers[index] = child
        else:
            self.workers.append(child)
        await wait_http(child, f"http://127.0.0.1:{port}/squid/tables/", timeout_s=90)

    async def start(self) -> None:
        for route in ("kafka", "rabbitmq"):
            await self.start_gateway(route)
        for index in range(len(self.worker_ports)):
            await self.start_worker(index)
        self.ingress = self._child("ingress", ["ingress"])
        await wait_http(self.ingress, f"{self.ingress_url}/api/routes")

    def kill_worker(self, index: int) -> None:
        self.workers[index].started().kill_group()

    def kill_gateway(self, route: str) -> None:
        self.gateways[route].started().kill_group()

    async def supervise(self, stop: asyncio.Event) -> None:
        """Restart a worker that exits by itself, as its supervisor (systemd, k8s) would."""
        while not stop.is_set():
            for index, child in enumerate(self.workers):
                if child.process is not None and child.process.poll() not in (None, -9):
                    await self.start_worker(index)
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        for child in [*([self.ingress] if self.ingress else []), *self.workers]:
            child.stop()
        for child in self.gateways.values():
            child.stop()


# Retries in flight at once while resolving (see Flood.resolve).
RESOLVE_IN_FLIGHT = 32


@dataclass
class Flood:
    """Games through the ingress at a steady rate; remembers every answer it was given."""

    url: str
    rate: float = 80.0
    seed: int = 0
    first: dict[str, dict[str, Any]] = field(default_factory=dict)
    mismatched: list[str] = field(default_factory=list)
    invalid: dict[str, int] = field(default_factory=dict)
    unresolved: dict[str, tuple[dict[str, Any], dict[str, str], bool]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    last_refusal: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._tasks: set[asyncio.Task[None]] = set()

    def request_id(self) -> str:
        length = self._rng.choice([1, 2, 8, 36, 64, 65, 90, 127, REQUEST_ID_MAX_CHARS])
        alphabet = string.ascii_letters + string.digits + "-_:. " + UNICODE
        while True:  # a fresh id each time: a reused one would be a (correct) 409
            text = "".join(self._rng.choice(alphabet) for _ in range(length))
            text = text if text.strip() else "x" + text[1:]
            if text not in self.used:
                self.used.add(text)
                return text
            length = min(length + 1, REQUEST_ID_MAX_CHARS)

    def next_request(self) -> tuple[dict[str, Any], dict[str, str], bool]:
        """(body, headers, valid)."""
        roll = self._rng.random()
        if roll < 0.07:  # invalid, refused before anything is emitted
            bad: list[dict[str, Any]] = [
                {"game_id": 9, "players": 10},
                {"game_id": 1, "players": 0},
                {"game_id": 2, "players": 5, "request_id": "r" * (REQUEST_ID_MAX_CHARS + 1)},
                {"game_id": 3, "players": 5, "request_id": "bell\x07"},
            ]
            body = dict(self._rng.choice(bad))
            body.setdefault("request_id", self.request_id())
            return body, {}, False
        if roll < 0.17 and self.first:  # a retry of an accepted id, half on the other route
            rid = self._rng.choice(list(self.first))
            event = self.first[rid]
            body = {"request_id": rid, "game_id": event["game_id"], "players": event["players"]}
            other = "rabbitmq" if event["route"] == "kafka" else "kafka"
            headers = {"X-Squid-Route": other} if self._rng.random() < 0.5 else {}
            return body, headers, True
        body = {
            "request_id": self.request_id(),
            "game_id": self._rng.randint(1, 5),
            "players": self._rng.randint(1, 100),
        }
        return body, {}, True

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=15) as client:
            period = 1 / self.rate
            while not stop.is_set():
                body, headers, valid = self.next_request()
                task = asyncio.create_task(self.play(client, body, headers, valid))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                await asyncio.sleep(period)
            if self._tasks:
                await asyncio.gather(*self._tasks)

    async def play(
        self, client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str], valid: bool
    ) -> None:
        rid = str(body["request_id"])
        try:
            response = await client.post("/api/games", json=body, headers=headers)
        except httpx.TransportError as exc:
            self.unresolved[rid] = (body, headers, valid)
            self.last_refusal[rid] = repr(exc)
            return
        self.statuses[response.status_code] += 1
        if response.status_code == 201:
            self.unresolved.pop(rid, None)
            self._answered(rid, response.json())
        elif response.status_code in RETRYABLE:
            self.unresolved[rid] = (body, headers, valid)
            self.last_refusal[rid] = f"{response.status_code} {response.text}"
        else:  # a definite refusal: only invalid requests may get one
            self.unresolved.pop(rid, None)
            if valid:
                self.unexpected.append(f"{response.status_code} for {body}: {response.text}")
            else:
                self.invalid[rid] = response.status_code

    def _answered(self, rid: str, event: dict[str, Any]) -> None:
        known = self.first.get(rid)
        if known is None:
            self.first[rid] = event
        elif known != event:
            self.mismatched.append(rid)

    async def resolve(self, timeout_s: float = 180.0) -> None:
        """Retry every request that got no definite answer, until each has one.

        As a careful client does: a bounded number of retries in flight (hundreds at once
        through one connection pool only time out waiting for a connection on a loaded
        machine, which says nothing about the server), the whole round again after a pause.
        """
        deadline = time.monotonic() + timeout_s
        slots = asyncio.Semaphore(RESOLVE_IN_FLIGHT)

        async def retry(
            client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str], valid: bool
        ) -> None:
            async with slots:
                await self.play(client, body, headers, valid)

        timeout = httpx.Timeout(15.0, pool=None)
        async with httpx.AsyncClient(base_url=self.url, timeout=timeout) as client:
            while self.unresolved and time.monotonic() < deadline:
                pending = list(self.unresolved.values())
                await asyncio.gather(*(retry(client, *request) for request in pending))
                if self.unresolved:
                    await asyncio.sleep(1.0)
        last = {rid: self.last_refusal.get(rid) for rid in list(self.unresolved)[:20]}
        assert not self.unresolved, (
            f"{len(self.unresolved)} requests never got an answer in {timeout_s:.0f}s;"
            f" answers so far {dict(self.statuses)}; the last refusal of some: {last}"
        )

    def expected(self) -> tuple[set[str], dict[str, int]]:
        """The event ids clients were told were accepted, and per route, by first answer."""
        ids = {event["event_id"] for event in self.first.values()}
        return ids, dict(Counter(event["route"] for event in self.first.values()))


@dataclass
class Seen:
    """What every store and table holds."""

    sql_ids: set[str]
    sql_routes: dict[str, int]
    sql_wins: int
    redis_wins: int
    redis_routes: dict[str, int]
    mongo_docs: int
    mongo_routes: dict[str, int]
    table_wins: int
    table_routes: dict[str, int]


async def read_all(settings: Settings, workers: Sequence[Settings]) -> Seen:
    conn = await sql_connect(settings)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT event_id FROM game_results")
            ids = {str(row[0]) for row in await cur.fetchall()}
            await cur.execute("SELECT route, games FROM route_counts")
            routes = {str(r): int(n) for r, n in await cur.fetchall()}
            await cur.execute("SELECT COALESCE(SUM(wins), 0) FROM player_wins")
            (wins,) = await cur.fetchone()
    finally:
        conn.close()
    redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        key = f"{settings.redis_prefix}:wins"
        scores = cast(list[tuple[str, float]], await redis.zrange(key, 0, -1, withscores=True))
        redis_wins = int(sum(score for _, score in scores))
        found = cast(dict[str, str], await redis.hgetall(f"{settings.redis_prefix}:routes"))
        redis_routes = {k: int(v) for k, v in found.items()}
    finally:
        await redis.aclose()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        db = mongo[settings.mongo_database]
        docs = await db[settings.mongo_collection].count_documents({})
        mongo_routes: Counter[str] = Counter()
        async for doc in db[TRACKING_COLLECTION].find({"topic": settings.events_topic}):
            mongo_routes.update({k: int(v) for k, v in doc.get("routes", {}).items()})
    finally:
        await mongo.close()
    table_wins, table_routes = await read_tables(workers)
    return Seen(
        ids,
        routes,
        int(wins),
        redis_wins,
        redis_routes,
        docs,
        dict(mongo_routes),
        table_wins,
        table_routes,
    )


async def read_tables(workers: Sequence[Settings]) -> tuple[int, dict[str, int]]:
    wins, routes = 0, Counter[str]()
    for body in await worker_pages(workers):
        wins += sum(body["player_wins"].values())
        routes.update(body["route_counts"])
    return wins, dict(routes)


async def settle(
    settings: Settings, workers: Sequence[Settings], total: int, timeout_s: float = 150.0
) -> Seen:
    """Poll until every store and table holds `total` games (or time runs out)."""
    deadline = time.monotonic() + timeout_s
    while True:
        seen = await read_all(settings, workers)
        counts = {len(seen.sql_ids), seen.redis_wins, seen.mongo_docs, seen.table_wins}
        if counts == {total} or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(1.0)


def check(flood: Flood, seen: Seen) -> dict[str, int]:
    """Every store and table equals what clients were told; returns lost / doubled counts."""
    ids, routes = flood.expected()
    invalid_ids = {event_id_for(rid) for rid in flood.invalid if rid not in flood.first}
    lost = len(ids - seen.sql_ids)
    doubled = max(0, seen.redis_wins - len(ids)) + max(0, seen.table_wins - len(ids))
    assert flood.unexpected == [], f"answers no client should get: {flood.unexpected[:5]}"
    assert flood.mismatched == [], "a retry got another answer than the first"
    assert not (invalid_ids & seen.sql_ids), "a refused request was projected"
    assert seen.sql_ids == ids
    assert seen.sql_routes == routes
    assert seen.sql_wins == len(ids)
    assert (seen.redis_wins, seen.redis_routes) == (len(ids), routes)
    assert (seen.mongo_docs, seen.mongo_routes) == (len(ids), routes)
    assert (seen.table_wins, seen.table_routes) == (len(ids), routes)
    return {"lost": lost, "doubled": doubled}


async def probe_visible(flood: Flood, settings: Settings, timeout_s: float = 120.0) -> float:
    """Seconds until a game played now is visible in SQL, Redis and MongoDB."""
    started = time.monotonic()
    rid = f"probe-{random.random()}"
    body = {"request_id": rid, "game_id": 3, "players": PROBE_PLAYERS}
    async with httpx.AsyncClient(base_url=flood.url, timeout=15) as client:
        while rid not in flood.first:
            await flood.play(client, body, {}, True)
            if rid not in flood.first:
                await asyncio.sleep(0.2)
            if time.monotonic() - started > timeout_s:
                raise AssertionError("the probe game was never accepted")
    event_id = flood.first[rid]["event_id"]
    while time.monotonic() - started < timeout_s:
        if await _visible_everywhere(settings, event_id):
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"probe {event_id} not visible after {timeout_s:.0f}s")


async def _visible_everywhere(settings: Settings, event_id: str) -> bool:
    try:
        conn = await sql_connect(settings, connect_timeout=2)
        try:
            async with conn.cursor() as cur:
                found = await cur.execute(
                    "SELECT 1 FROM game_results WHERE event_id = %s", (event_id,)
                )
        finally:
            conn.close()
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongo_url, serverSelectionTimeoutMS=2000
        )
        try:
            doc = await mongo[settings.mongo_database][settings.mongo_collection].find_one(
                {"_id": event_id}, {"_id": 1}
            )
        finally:
            await mongo.close()
        redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=2)
        try:
            last = await redis.lrange(f"{settings.redis_prefix}:recent:{PROBE_PLAYERS}", 0, -1)
        finally:
            await redis.aclose()
    except Exception:  # a store still down counts as not visible yet
        return False
    return bool(found) and doc is not None and any(event_id.encode() in item for item in last)


@contextmanager
def running(pipeline: Pipeline) -> Iterator[Pipeline]:
    try:
        yield pipeline
    finally:
        pipeline.stop()
