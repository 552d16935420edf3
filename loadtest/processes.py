"""Start and stop gateway and ingress processes for floods, benchmarks and tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from squidstream.commands import console_argv
from squidstream.grpc_client import gateway_channel
from squidstream.settings import Settings

ROOT: Final = Path(__file__).resolve().parent.parent


class ProcessError(RuntimeError):
    """A child process did not become ready, or died."""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Child:
    """A `squidstream ...` subprocess with its own SQUID_* environment."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        log: Path | None = None,
        cwd: Path = ROOT,
    ):
        self.args = console_argv(*args)
        self._env = {**os.environ, **env}
        self._log = log
        # A Faust worker keeps its tables under `<app id>-data` in its working directory.
        self._cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        output = self._log.open("wb") if self._log is not None else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.args, env=self._env, cwd=self._cwd, stdout=output, stderr=subprocess.STDOUT
        )
        if self._log is not None and not isinstance(output, int):
            output.close()  # the child holds its own copy of the file
        return self

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise ProcessError(f"{' '.join(self.args[3:])} exited with {code}; see {self._log}")

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGINT (so a profile gets written), then SIGKILL after the timeout."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


async def wait_serving(
    child: Child, target: str, timeout_s: float = 60.0, settings: Settings | None = None
) -> None:
    """Wait until the gateway at `target` reports SERVING through gRPC health checking.

    With `settings`, over TLS if they say the gateways use it (health needs no token).
    """
    deadline = time.monotonic() + timeout_s
    channel = (
        grpc.aio.insecure_channel(target) if settings is None else gateway_channel(settings, target)
    )
    async with channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            child.check_alive()
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise ProcessError(f"gateway at {target} not SERVING after {timeout_s:.0f}s")
            await asyncio.sleep(0.2)


async def wait_http(child: Child, url: str, timeout_s: float = 60.0) -> None:
    """Wait until an HTTP server answers at `url`."""
    import httpx

    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while True:
            child.check_alive()
            try:
                await client.get(url, timeout=1.0)
                return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ProcessError(f"nothing answers at {url} after {timeout_s:.0f}s")
            await asyncio.sleep(0.2)
