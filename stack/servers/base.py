"""The interface every local server implements: prepare, start command, real health check."""

from __future__ import annotations

import asyncio
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from squidstream.settings import Settings
from stack.install import ensure_packages, require_binary
from stack.paths import StackPaths

Report = Callable[[str], None]

# Source files of build inputs live beside the Python code (stack/kafka/, stack/ferretdb/).
STACK_SOURCES = Path(__file__).resolve().parent.parent


class Server(ABC):
    """One server of the local stack, living under `settings.data_dir`."""

    name: ClassVar[str]
    # The Settings field holding the port clients use (its variable is SQUID_ + upper case).
    port_field: ClassVar[str]
    start_timeout_s: ClassVar[float] = 60.0
    stop_timeout_s: ClassVar[float] = 30.0
    # Debian packages to install when their binary is missing: binary -> package.
    packages: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # A misspelt field would otherwise only fail when a stack starts.
        field = getattr(cls, "port_field", None)
        known = Settings.model_fields.get(field) if field is not None else None
        if field is not None and (known is None or known.annotation is not int):
            raise TypeError(f"{cls.__name__}.port_field {field!r} is no int field of Settings")

    def __init__(self, settings: Settings, paths: StackPaths) -> None:
        self.settings = settings
        self.paths = paths

    @property
    def port(self) -> int:
        """The port clients use."""
        return int(getattr(self.settings, self.port_field))

    @property
    def ports(self) -> tuple[int, ...]:
        """Every port the server binds (all must be free before it starts)."""
        return (self.port,)

    @property
    def port_setting(self) -> str:
        """The environment variable that moves this server's client port."""
        return f"SQUID_{self.port_field.upper()}"

    @property
    def bind_host(self) -> str:
        # Loopback only: the local stack is never reachable from other machines.
        return "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.paths.data(self.name)

    @property
    def home(self) -> Path:
        """Generated config and fetched files; the server's own data lives in data_dir."""
        return self.paths.root / self.name

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
        ensure_packages(self.packages, report)
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def executable(self, binary: str) -> str:
        """The path of one of `packages`' binaries, or a StackError naming its package."""
        return require_binary(binary, self.packages[binary])

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


def write_config(path: Path, text: str, *, private: bool = False) -> None:
    """Write a generated config file (and its folder); a private one (it holds a secret) is
    readable by this user only, from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if private:
        path.touch(mode=0o600)
        path.chmod(0o600)
    path.write_text(text, encoding="utf-8")


async def tcp_accepts(host: str, port: int, timeout_s: float = 3.0) -> None:
    """Open and close one TCP connection; raises OSError or TimeoutError if nothing listens."""
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    writer.close()
    await writer.wait_closed()
