"""FerretDB v1 on SQLite, built from stack/ferretdb/ (a Go program embedding the package)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from pymongo import AsyncMongoClient

from stack.errors import ServerError
from stack.install import find_binary
from stack.servers.base import STACK_SOURCES, Report, Server, tcp_accepts

SOURCE_DIR = STACK_SOURCES / "ferretdb"
SOURCE_FILES = ("main.go", "go.mod", "go.sum")


class FerretDB(Server):
    name = "ferretdb"
    start_timeout_s = 30.0

    @property
    def port(self) -> int:
        return self.settings.mongo_port

    @property
    def port_setting(self) -> str:
        return "SQUID_MONGO_PORT"

    @property
    def binary(self) -> Path:
        return self.paths.bin / "ferretdb"

    @property
    def marker(self) -> str:
        return str(self.binary)

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        if self._needs_build():
            self._build(report)

    def _needs_build(self) -> bool:
        if not self.binary.exists():
            return True
        built = self.binary.stat().st_mtime
        return any((SOURCE_DIR / name).stat().st_mtime > built for name in SOURCE_FILES)

    def _build(self, report: Report) -> None:
        go = find_binary("go")
        if go is None:
            raise ServerError(self.name, "`go` not found; install Go >= 1.24 to build FerretDB")
        report("ferretdb: building the binary with `go build` (first run only, about a minute)")
        started = time.monotonic()
        self.paths.bin.mkdir(parents=True, exist_ok=True)
        tmp = self.binary.with_suffix(".tmp")
        argv = [go, "build", "-trimpath", "-o", str(tmp), "."]
        env = {**os.environ, "CGO_ENABLED": "0"}
        done = subprocess.run(
            argv, cwd=SOURCE_DIR, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ServerError(self.name, f"go build failed:\n{done.stdout}{done.stderr}")
        tmp.replace(self.binary)
        report(f"ferretdb: built {self.binary} in {time.monotonic() - started:.0f}s")

    def argv(self) -> list[str]:
        return [
            str(self.binary),
            "-listen", f"{self.bind_host}:{self.port}",
            "-sqlite-dir", str(self.data_dir),
        ]  # fmt: skip

    async def check(self) -> None:
        # pymongo's background monitor leaks its socket if the client is closed while it is
        # still dialling a dead port, so only build a client once the port accepts.
        await tcp_accepts(self.settings.mongo_host, self.port)
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            self.settings.mongo_host, self.port, serverSelectionTimeoutMS=3000, connect=False
        )
        try:
            answer = await client.admin.command("ping")
            if answer.get("ok") != 1.0:
                raise RuntimeError(f"ping answered {answer}")
        finally:
            await client.close()
