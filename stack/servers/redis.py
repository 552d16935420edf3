"""Redis from the Debian package, in the foreground, snapshotting to data/redis on shutdown."""

from __future__ import annotations

from typing import ClassVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from stack.install import ensure_packages, require_binary
from stack.servers.base import Report, Server


class Redis(Server):
    name = "redis"
    start_timeout_s = 20.0
    packages: ClassVar[dict[str, str]] = {"redis-server": "redis-server"}

    @property
    def port(self) -> int:
        return self.settings.redis_port

    @property
    def marker(self) -> str:
        # Only the name: redis-server soon rewrites its title from the argv to "... HOST:PORT".
        return "redis-server"

    def prepare(self, report: Report) -> None:
        ensure_packages(self.packages, report)
        super().prepare(report)

    def argv(self) -> list[str]:
        # A save point makes SIGTERM write dump.rdb, so projections survive `down` + `up`.
        return [
            require_binary("redis-server", "redis-server"),
            "--daemonize", "no",
            "--bind", self.bind_host,
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--dbfilename", "dump.rdb",
            "--save", "300 1",
            "--appendonly", "no",
            "--logfile", "",
        ]  # fmt: skip

    async def check(self) -> None:
        # No retries: a probe should fail at once; `up` does the retrying.
        client = aioredis.Redis(
            host=self.settings.redis_host,
            port=self.port,
            socket_timeout=3,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            if not await client.ping():
                raise RuntimeError("PING did not answer PONG")
        finally:
            await client.aclose()
