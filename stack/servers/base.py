"""The interface every local server implements: prepare, start command, real health check."""

from __future__ import annotations

import asyncio
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from squidstream.settings import Settings
from stack.paths import StackPaths

Report = Callable[[str], None]

# Source files of build inputs live beside the Python code (stack/kafka/, stack/ferretdb/).
STACK_SOURCES = Path(__file__).resolve().parent.parent


class Server(ABC):
    """One server of the local stack, living under `settings.data_dir`."""

    name: ClassVar[str]
    start_timeout_s: ClassVar[float] = 60.0
    stop_timeout_s: ClassVar[float] = 30.0
    # Debian packages to install when their binary is missing: binary -> package.
    packages: ClassVar[dict[str, str]] = {}

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        self.settings = settings
        self.paths = paths

    @property
    @abstractmethod
    def port(self) -> int:
        """The port clients use."""

    @property
    def ports(self) -> tuple[int, ...]:
        """Every port the server binds (all must be free before it starts)."""
        return (self.port,)

    @property
    def port_setting(self) -> str:
        """The environment variable that moves this server's client port."""
        return f"SQUID_{self.name.upper()}_PORT"

    @property
    def bind_host(self) -> str:
        # Loopback only: the local stack is never reachable from other machines.
        return "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.paths.data(self.name)

    @property
    def log_path(self) -> Path:
        return self.paths.log(self.name)

    @property
    def pid_path(self) -> Path:
        return self.paths.pid(self.name)

    @property
    @abstractmethod
    def marker(self) -> str:
        """A text found in the server's command line, to check a pid before signalling it."""

    def prepare(self, report: Report) -> None:
        """Install, build and initialise what is missing; cheap when everything is there."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def argv(self) -> list[str]:
        """The foreground command that runs the server (absolute executable path first)."""

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def cwd(self) -> Path | None:
        return None

    @abstractmethod
    async def check(self) -> None:
        """One real protocol call; raises if the server does not answer correctly."""

    async def on_ready(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Called once after `up` saw the server healthy (e.g. to create a database)."""


async def tcp_accepts(host: str, port: int, timeout_s: float = 3.0) -> None:
    """Open and close one TCP connection; raises OSError or TimeoutError if nothing listens."""
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    writer.close()
    await writer.wait_closed()
