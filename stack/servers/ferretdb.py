"""FerretDB v1 on SQLite or on the stack's PostgreSQL (`mongo_backend`), built from
stack/ferretdb/ (a Go program embedding the package).

The build patches one line of a copy of FerretDB's source (stack/ferretdb/patch.json says
which and why): without it every lookup by `_id` on SQLite scans the collection. The line
is checked first, so a FerretDB whose source moved on fails the build instead of building
unpatched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from pymongo import AsyncMongoClient

from stack.errors import ServerError
from stack.install import find_binary
from stack.servers.base import STACK_SOURCES, tcp_accepts
from stack.servers.built import BuiltServer
from stack.servers.postgresql import ferretdb_url

SOURCE_DIR = STACK_SOURCES / "ferretdb"
SOURCE_FILES = ("main.go", "go.mod", "go.sum", "patch.json")
PATCH = SOURCE_DIR / "patch.json"


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

    @property
    def _build_dir(self) -> Path:
        return self.paths.bin / "ferretdb-build"

    def _go(self, argv: list[str], cwd: Path, env: dict[str, str]) -> str:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServerError(
                self.name, f"{' '.join(argv[1:3])} failed:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def _prepare_sources(self, go: str, env: dict[str, str]) -> None:
        """Our program beside a patched copy of FerretDB's module, which go.mod points to.

        (`go build -overlay` would be shorter, but it refuses files in the module cache.)
        """
        patch = json.loads(PATCH.read_text())
        found = self._go([go, "mod", "download", "-json", patch["module"]], SOURCE_DIR, env)
        shutil.rmtree(self._build_dir, ignore_errors=True)
        copy = self._build_dir / "src"
        # Module cache files are read-only: the copies are made writable.
        shutil.copytree(json.loads(found)["Dir"], copy, copy_function=shutil.copyfile)
        patched = copy / patch["file"]
        text = patched.read_text()
        if text.count(patch["old"]) != 1:
            raise ServerError(self.name, f"{patch['file']} no longer holds {patch['old']!r}")
        patched.write_text(text.replace(patch["old"], patch["new"]))
        for name in ("main.go", "go.sum"):
            shutil.copyfile(SOURCE_DIR / name, self._build_dir / name)
        go_mod = (SOURCE_DIR / "go.mod").read_text()
        replace = f"\n// Written by the stack's build: {PATCH.name} says why.\n"
        (self._build_dir / "go.mod").write_text(
            f"{go_mod}{replace}replace {patch['module']} => ./src\n"
        )

    def build_notice(self) -> str:
        return "the binary with `go build` (first run only, about a minute)"

    def run_build(self, command: list[str]) -> None:
        self.paths.bin.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CGO_ENABLED": "0"}
        self._prepare_sources(command[0], env)
        self._go(command, self._build_dir, env)
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
