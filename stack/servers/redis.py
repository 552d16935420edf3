"""Redis from the Debian package, in the foreground, with an fsync'd append-only file.

Durability: AOF on with `appendfsync always`, so a SIGKILL (or a power cut) loses nothing
Redis acknowledged. Measured on our polyglot machine (2 cores, shared with other work),
2026-12-01, AOF on for both settings, same sitting:

- our workload, `python -m stack.redis_bench` (one Lua script call per 1,000 events,
  redis-py; both servers run at once and take turns in 30 blocks of 20 calls): awaited one
  call at a time, always 59,586 vs everysec 65,100 events/s (medians; paired-block ratio
  0.93); pipelined 8 calls deep, 85,434 vs 87,409 (ratio 0.96). Earlier runs with one
  server after the other swung from 0.66 to 1.16 with the machine's load: noise, not fsync.
- `redis-benchmark -t set -n 20000 -c 1 -P 1` (one client, one fsync per command), two
  runs each: always 4,337 / 3,197 vs everysec 27,137 / 20,661 requests/s, so one fsync
  costs about 0.2 ms here.
- `redis-benchmark -t set -n 300000 -c 50 -P 16` (many commands per fsync): always 350,877 /
  179,640 vs everysec 347,624 / 386,597 requests/s.

So `always` costs one ~0.2 ms fsync per script call: 4-7% on batched scripts, under the 20%
we allowed, while one command per event would pay it 6 times over.

A data folder that holds only an RDB snapshot (the stack before AOF) is converted once: Redis
starts with AOF off so it loads dump.rdb, then `CONFIG SET appendonly yes` writes the AOF
from that data (starting with AOF on would start empty and ignore dump.rdb).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from squidstream.settings import Settings
from stack.errors import ServerError
from stack.paths import StackPaths
from stack.servers.base import Report, Server

APPEND_FSYNC = "always"
AOF_DIR = "appendonlydir"
# How long `up` waits for the one-off RDB -> AOF conversion to finish writing.
CONVERSION_TIMEOUT_S = 120.0


class Redis(Server):
    name = "redis"
    port_field = "redis_port"
    start_timeout_s = 20.0
    packages: ClassVar[dict[str, str]] = {"redis-server": "redis-server"}

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        super().__init__(settings, paths)
        # Set by prepare() (only called before a start), read by argv() and on_ready().
        self._convert_rdb = False

    @property
    def marker(self) -> str:
        # Only the name: redis-server soon rewrites its title from the argv to "... HOST:PORT".
        return "redis-server"

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        has_aof = (self.data_dir / AOF_DIR).is_dir()
        self._convert_rdb = not has_aof and (self.data_dir / "dump.rdb").exists()
        if self._convert_rdb:
            report("redis: converting data/redis/dump.rdb to an append-only file (once)")

    def argv(self) -> list[str]:
        # No RDB save points: the AOF is the durable copy, and a background save would fork a
        # second Redis on our two cores for nothing.
        return [
            self.executable("redis-server"),
            "--daemonize", "no",
            "--bind", self.bind_host,
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--dbfilename", "dump.rdb",
            "--save", "",
            "--appendonly", "no" if self._convert_rdb else "yes",
            "--appenddirname", AOF_DIR,
            "--appendfsync", APPEND_FSYNC,
            "--logfile", "",
        ]  # fmt: skip

    def _client(self) -> aioredis.Redis:
        # No retries: a probe should fail at once; `up` does the retrying.
        return aioredis.Redis(
            host=self.settings.redis_host,
            port=self.port,
            socket_timeout=3,
            retry=Retry(NoBackoff(), 0),
        )

    async def check(self) -> None:
        client = self._client()
        try:
            if not await client.ping():
                raise RuntimeError("PING did not answer PONG")
        finally:
            await client.aclose()

    async def on_ready(self) -> None:
        if not self._convert_rdb:
            return
        client = self._client()
        try:
            await client.config_set("appendonly", "yes")
            await _wait_for_aof(client)
        finally:
            await client.aclose()
        self._convert_rdb = False


async def _wait_for_aof(client: aioredis.Redis) -> None:
    """Until the rewrite that CONFIG SET appendonly started has written the whole dataset."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CONVERSION_TIMEOUT_S
    while True:
        info = await client.info("persistence")
        busy = info.get("aof_rewrite_in_progress") or info.get("aof_rewrite_scheduled")
        if info.get("aof_enabled") == 1 and not busy:
            if info.get("aof_last_bgrewrite_status") != "ok":
                raise ServerError("redis", f"writing the AOF failed: {info}")
            return
        if loop.time() > deadline:
            raise ServerError("redis", f"AOF not written after {CONVERSION_TIMEOUT_S:.0f}s")
        await asyncio.sleep(0.1)
