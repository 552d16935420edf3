"""A private pipeline on the shared servers: own topic, queue, prefix, databases, processes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomysql
import httpx
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from loadtest.brokers import delete_keys, delete_queue, delete_topic
from loadtest.processes import Child, free_port, wait_http, wait_serving
from squidstream.isolation import isolated
from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from squidstream.worker_pages import worker_tables_url

OnStart = Callable[[str, int], None]


def private_settings(base: Settings, tag: str) -> Settings:
    """Names nobody else uses; everything under them is dropped by `drop_private`."""
    return isolated(base, f"bench_report_{tag}_{uuid.uuid4().hex[:8]}", free_port())


async def drop_private(settings: Settings) -> None:
    """Delete the topics, queues, keys and databases of `private_settings`; best effort."""
    with contextlib.suppress(Exception):
        for topic in (settings.events_topic, settings.dead_letter_topic):
            await delete_topic(settings, topic)
    with contextlib.suppress(Exception):
        await drop_app_topics(settings)
    for queue in (settings.rabbitmq_queue, settings.rabbitmq_dead_letter_queue):
        with contextlib.suppress(Exception):
            await delete_queue(settings, queue)
    with contextlib.suppress(Exception):
        await delete_keys(settings, settings.redis_prefix)
    with contextlib.suppress(Exception):
        await _drop_sql(settings)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    with contextlib.suppress(Exception):
        await mongo.drop_database(settings.mongo_database)
    await mongo.close()


async def drop_app_topics(settings: Settings) -> None:
    """The Faust app's own topics: table changelogs, the assignor's leader topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **kafka_auth(settings))
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(f"{settings.faust_app_id}-")]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def sql_server_cursor(settings: Settings) -> AsyncIterator[Any]:
    """A cursor on the settings' SQL server, no database chosen."""
    conn = await aiomysql.connect(
        host=settings.sql_host,
        port=settings.sql_port,
        user=settings.sql_user,
        password=settings.sql_password.get_secret_value(),
    )
    try:
        async with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


async def _drop_sql(settings: Settings) -> None:
    async with sql_server_cursor(settings) as cur:
        await cur.execute(f"DROP DATABASE IF EXISTS `{settings.sql_database}`")


@dataclass
class Processes:
    """The children of one section: workers and gateways, stopped in reverse order."""

    settings: Settings
    scratch: Path
    on_start: OnStart
    children: list[Child] = field(default_factory=list)
    gateways: dict[str, str] = field(default_factory=dict)  # route -> target

    def __post_init__(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)

    def _start(self, name: str, args: list[str]) -> Child:
        log = self.scratch / f"{name}.log"
        child = Child(args, self.settings.as_env(), log, cwd=self.scratch).start()
        self.children.append(child)
        assert child.process is not None
        self.on_start(name, child.process.pid)
        return child

    async def worker(self) -> None:
        child = self._start("worker", ["worker", "-l", "warn"])
        await wait_http(child, f"http://127.0.0.1:{self.settings.faust_web_port}/", 120)

    async def gateway(self, route: str) -> str:
        port = free_port()
        child = self._start(f"gateway-{route}", ["gateway", route, "--port", str(port)])
        target = f"{self.settings.gateway_host}:{port}"
        await wait_serving(child, target, settings=self.settings)
        self.gateways[route] = target
        return target

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()


@contextlib.asynccontextmanager
async def pipeline(
    base: Settings, tag: str, scratch: Path, on_start: OnStart
) -> AsyncIterator[Processes]:
    settings = private_settings(base, tag)
    processes = Processes(settings, scratch, on_start)
    try:
        yield processes
    finally:
        processes.stop()
        await drop_private(settings)


async def worker_projected(settings: Settings, client: httpx.AsyncClient) -> int:
    """Events the worker reports as projected (0 while it is not answering yet)."""
    url = worker_tables_url("127.0.0.1", settings.faust_web_port)
    try:
        return int((await client.get(url)).json()["worker"]["projected"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return 0


async def wait_projected(settings: Settings, total: int, timeout_s: float) -> float:
    """Wait until the worker has projected `total` events; the seconds it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with httpx.AsyncClient(timeout=5) as client:
        while await worker_projected(settings, client) < total:
            if loop.time() - started > timeout_s:
                raise TimeoutError(f"worker did not project {total} events in {timeout_s:.0f}s")
            await asyncio.sleep(0.1)
    return loop.time() - started
