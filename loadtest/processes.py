"""Start and stop gateway and ingress processes for floods, benchmarks and tests."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from squidstream.commands import console_argv
from squidstream.grpc_client import gateway_channel_sync
from squidstream.launcher import Launched, LaunchError, Probe, http_answers, wait_ready
from squidstream.launcher import free_port as free_port  # imported from here by many callers
from squidstream.settings import Settings

ROOT: Final = Path(__file__).resolve().parent.parent


class Child:
    """A `squidstream ...` subprocess with its own SQUID_* environment."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        log: Path | None = None,
        cwd: Path = ROOT,
    ):
        self.name = " ".join(args)
        self.args = console_argv(*args)
        self._env = dict(env)
        self._log = log
        # A Faust worker keeps its tables under `<app id>-data` in its working directory.
        self._cwd = cwd
        self.process: Launched | None = None

    def start(self) -> Child:
        self.process = Launched(
            self.args, name=self.name, env=self._env, log=self._log, cwd=self._cwd, quiet=True
        )
        return self

    def started(self) -> Launched:
        if self.process is None:
            raise LaunchError(f"{self.name} was never started")
        return self.process

    def check_alive(self) -> None:
        self.started().check_alive()

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGINT (so a profile gets written), then SIGKILL after the timeout."""
        return None if self.process is None else self.process.stop(timeout_s, signal.SIGINT)


async def wait_until(child: Child, probe: Probe, timeout_s: float) -> None:
    """Until `probe` says the child serves; LaunchError (with its log) if it exits first.

    The blocking wait runs in a thread, so the event loop goes on meanwhile.
    """
    await asyncio.to_thread(wait_ready, child.started(), probe, timeout_s)


async def wait_serving(
    child: Child, target: str, timeout_s: float = 60.0, settings: Settings | None = None
) -> None:
    """Wait until the gateway at `target` reports SERVING through gRPC health checking.

    With `settings`, over TLS if they say the gateways use it (health needs no token).
    """
    channel = (
        grpc.insecure_channel(target)
        if settings is None
        else gateway_channel_sync(settings, target)
    )
    health = health_pb2_grpc.HealthStub(channel)

    def serving() -> bool:
        try:
            reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    try:
        await wait_until(child, serving, timeout_s)
    finally:
        channel.close()


async def wait_http(child: Child, url: str, timeout_s: float = 60.0) -> None:
    """Wait until an HTTP server answers at `url`."""
    await wait_until(child, http_answers(url), timeout_s)
