"""FerretDB v1 on SQLite or on the stack's PostgreSQL (`mongo_backend`), built from
stack/ferretdb/ (a Go program embedding the package)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pymongo import AsyncMongoClient

from stack.errors import ServerError
from stack.install import find_binary
from stack.servers.base import STACK_SOURCES, tcp_accepts
from stack.servers.built import BuiltServer
from stack.servers.postgresql import ferretdb_url

SOURCE_DIR = STACK_SOURCES / "ferretdb"
SOURCE_FILES = ("main.go", "go.mod", "go.sum")


class FerretDB(BuiltServer):
    name = "ferretdb"
    port_field = "mongo_port"
    start_timeout_s = 30.0
    binary_name = "ferretdb"

    @property
    def marker(self) -> str:
        return str(self.binary)

    @property
    def _unplaced_binary(self) -> Path:
        # Built beside the binary, then moved in whole: a failed build never leaves half of one.
        return self.binary.with_suffix(".tmp")

    def needs_build(self) -> bool:
        if super().needs_build():
            return True
        built = self.binary.stat().st_mtime
        return any((SOURCE_DIR / name).stat().st_mtime > built for name in SOURCE_FILES)

    def build_command(self) -> list[str]:
        go = find_binary("go")
        if go is None:
            raise ServerError(self.name, "`go` not found; install Go >= 1.24 to build FerretDB")
        return [go, "build", "-trimpath", "-o", str(self._unplaced_binary), "."]

    def build_notice(self) -> str:
        return "the binary with `go build` (first run only, about a minute)"

    def run_build(self, command: list[str]) -> None:
        self.paths.bin.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CGO_ENABLED": "0"}
        done = subprocess.run(
            command, cwd=SOURCE_DIR, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ServerError(self.name, f"go build failed:\n{done.stdout}{done.stderr}")
        self._unplaced_binary.replace(self.binary)

    def argv(self) -> list[str]:
        backend = ["-sqlite-dir", str(self.data_dir)]
        if self.settings.mongo_backend == "postgresql":
            backend = ["-postgresql-url", ferretdb_url(self.settings.postgres_port)]
        return [
            str(self.binary),
            "-listen", f"{self.bind_host}:{self.port}",
            "-handler", self.settings.mongo_backend,
            *backend,
        ]  # fmt: skip

    async def check(self) -> None:
        # ping reaches the backend too: on PostgreSQL it opens FerretDB's pool, so FerretDB
        # counts as healthy only once PostgreSQL answers and has the ferretdb database.
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
