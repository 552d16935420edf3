"""TiDB v8.5 on its embedded unistore engine, built from the Go module proxy by stack/tidb/."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from stack.errors import ServerError
from stack.servers.base import STACK_SOURCES, Report
from stack.servers.mysql import MySQLServer

BUILD_SCRIPT = STACK_SOURCES / "tidb" / "build.sh"
# TiDB's own pair is SQL 4000 / status 10080; other SQL ports keep the same distance.
STATUS_PORT_OFFSET = 6080
# TiDB's default is 80% of the machine's RAM, far too much on a shared 2-core box.
MEMORY_LIMIT = "4GB"
TIDB_DEFAULT_MEMORY_LIMIT = "80%"
LOG_FILE_MB = 64
STDERR_FD = 2
LOG_FILE_BACKUPS = 4


class TiDB(MySQLServer):
    name = "tidb"
    start_timeout_s = 60.0
    stop_timeout_s = 30.0

    @property
    def binary(self) -> Path:
        return self.paths.bin / "tidb-server"

    @property
    def home(self) -> Path:
        """The generated config; the store lives in data/tidb, the logs in logs/tidb/."""
        return self.paths.root / "tidb"

    @property
    def config_path(self) -> Path:
        return self.home / "tidb.toml"

    @property
    def log_path(self) -> Path:
        # Its own folder: TiDB writes oom_record/ next to its log file. Our stdout/stderr
        # capture appends to the same file, so start-up failures and TiDB's log read as one.
        return self.paths.root / "logs" / "tidb" / "tidb.log"

    @property
    def socket_path(self) -> Path:
        # TiDB's default is /tmp/tidb-<port>.sock, shared by every stack on the machine.
        return self.paths.run / "tidb.sock"

    @property
    def temp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def status_port(self) -> int | None:
        """The HTTP status port, or None (status server off) when it would not be a valid port."""
        port = self.port + STATUS_PORT_OFFSET
        return port if port <= 65535 else None

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port,) if self.status_port is None else (self.port, self.status_port)

    @property
    def marker(self) -> str:
        return f"-path {self.data_dir}"

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if not self.binary.exists():
            self.build(report)
        self.home.mkdir(parents=True, exist_ok=True)
        # Regenerated on every start so a change of data_dir takes effect.
        self.config_path.write_text(tidb_config(self), encoding="utf-8")

    def build(self, report: Report) -> None:
        """Build the binary with BUILD_SCRIPT (which waits for a build already running)."""
        report(
            f"tidb: building {self.binary} with {BUILD_SCRIPT} (first run only; about 12 min on"
            " 2 cores, ~5 GB of Go module and build caches)"
        )
        started = time.monotonic()
        env = {**os.environ, "SQUID_DATA_DIR": str(self.paths.root)}
        # The script prints its progress (a line per 100 packages) on stdout: send it to our
        # stderr, where the stack's own progress lines go.
        done = subprocess.run(["bash", str(BUILD_SCRIPT)], env=env, stdout=STDERR_FD, check=False)
        if done.returncode != 0 or not self.binary.exists():
            build_log = self.paths.root / "logs" / "tidb-build.log"
            reason = f"{BUILD_SCRIPT} failed (exit {done.returncode}); see {build_log}"
            raise ServerError(self.name, reason)
        report(f"tidb: built {self.binary} in {time.monotonic() - started:.0f}s")

    def argv(self) -> list[str]:
        status = ["-report-status=false"]
        if self.status_port is not None:
            status = ["-status", str(self.status_port), "-status-host", self.bind_host]
        return [
            str(self.binary),
            "-config", str(self.config_path),
            "-config-strict",
            "-store", "unistore",
            "-path", str(self.data_dir),
            "-host", self.bind_host,
            "-P", str(self.port),
            *status,
        ]  # fmt: skip

    async def on_ready(self) -> None:
        await super().on_ready()
        conn = await self.connect()
        try:
            async with conn.cursor() as cur:
                # A global variable, persisted in the store: set once, and a value someone
                # chose deliberately (anything but TiDB's default) is left alone.
                await cur.execute("SELECT @@GLOBAL.tidb_server_memory_limit")
                row = await cur.fetchone()
                if row is not None and row[0] == TIDB_DEFAULT_MEMORY_LIMIT:
                    await cur.execute(f"SET GLOBAL tidb_server_memory_limit = '{MEMORY_LIMIT}'")
        finally:
            conn.close()


def tidb_config(server: TiDB) -> str:
    """The TOML config: temp files, socket and rotated logs under data_dir, nothing in /tmp."""
    slow_log = server.log_path.parent / "tidb-slow.log"
    return f"""# Generated by `squidstream stack up`; edits are overwritten.
temp-dir = {_toml_string(server.temp_dir)}
socket = {_toml_string(server.socket_path)}

[log]
level = "info"
slow-query-file = {_toml_string(slow_log)}

[log.file]
filename = {_toml_string(server.log_path)}
max-size = {LOG_FILE_MB}
max-backups = {LOG_FILE_BACKUPS}
"""


def _toml_string(path: Path) -> str:
    # A TOML basic string uses JSON's escapes for quotes, backslashes and control characters.
    return json.dumps(str(path))
