"""PostgreSQL 15 from the Debian package, as user postgres, as FerretDB's backend on request.

Runs only when `mongo_backend` is postgresql. Durable like the rest of the stack: fsync and
synchronous_commit stay on (PostgreSQL's defaults), so nothing acknowledged is lost.

Access: trust for user postgres over loopback TCP and the socket in its data folder, as
MariaDB's root has no password; nothing listens beyond 127.0.0.1.

Stopping: `down` sends SIGTERM to the whole process group, so the postmaster starts a smart
shutdown while its backends end their sessions at once; that is a clean shutdown (a final
checkpoint, no recovery at the next start).

Why SQLite stays the default backend: PostgreSQL is not faster end to end here. Measured on
our polyglot machine (2 cores shared with other work, 24 GiB, Debian 12), 2026-12-01/02,
FerretDB v1.24.2 on SQLite vs on PostgreSQL 15.18 (these settings), runs alternating
between the two, `python -m tests.stack.mongo_backend_bench lane|drain 40000 3` (its first
sittings from a draft of the same calls), events/s:

- The Mongo lane alone (MongoProjection.apply, 1,000-event batches; what the streams bench
  calls "mongo alone"): even. Quiet machine (load 0.15 -> 0.76): sqlite 9,226 / 7,986 /
  9,125 vs postgresql 8,409 / 9,158 / 7,613, paired ratios 0.91, 1.15, 0.83. Three earlier
  sittings (20,000 or 40,000 events, load 2.3 -> 3.3, 11 pairs): ratios 0.70 to 1.25, median 1.00.
- The drain end to end (one worker, three projections, 40,000 preloaded events; FerretDB
  restarted on the other backend between runs): three sittings, paired ratios 1.13, 0.79,
  0.75 (load 1.3 -> 4.2), 0.76, 1.06, 1.26 (load 3.6 -> 3.5), 1.08, 1.20, 0.77 (load 1.7 ->
  1.8); medians per sitting sqlite 1,170 / 1,057 / 1,596 vs postgresql 1,036 / 1,116 / 1,559.
  The Python worker, not the store, sets the drain's pace.
- What PostgreSQL does save is CPU: FerretDB plus every PostgreSQL process spent 44-65 us per
  event in the lane against FerretDB alone on SQLite (modernc's C-to-Go SQLite) 86-126 us,
  and 5.5-6.3 s per 40,000-event drain against 9.7-12.9 s. Worth the switch when something
  else needs those cores, or with several writers at once (not measured here).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar

from stack.errors import ServerError
from stack.install import require_binary
from stack.servers.base import Report, Server
from stack.servers.rabbitmq import unreachable_for_others

# Debian 12's PostgreSQL; its binaries live outside PATH.
BIN_DIR = Path("/usr/lib/postgresql/15/bin")
SERVICE_USER = "postgres"
# The database FerretDB keeps its collections in (one schema per Mongo database).
FERRETDB_DATABASE = "ferretdb"
PSQL_TIMEOUT_S = 3


class PostgreSQL(Server):
    # Absolute paths: find_binary takes them as they are.
    packages: ClassVar[dict[str, str]] = {
        str(BIN_DIR / "postgres"): "postgresql-15",
        str(BIN_DIR / "initdb"): "postgresql-15",
        str(BIN_DIR / "psql"): "postgresql-client-15",
    }
    name = "postgresql"
    port_field = "postgres_port"
    # The shutdown checkpoint writes whatever is dirty in shared_buffers.
    stop_timeout_s = 60.0

    @property
    def marker(self) -> str:
        return f"-D {self.data_dir}"

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        if (blocked := unreachable_for_others(self.data_dir)) is not None:
            elsewhere = "use a SQUID_DATA_DIR elsewhere"
            raise ServerError(self.name, f"user {SERVICE_USER} cannot enter {blocked}; {elsewhere}")
        # PostgreSQL refuses a data folder that others can read, or that it does not own.
        shutil.chown(self.data_dir, SERVICE_USER, SERVICE_USER)
        self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            report("postgresql: creating the cluster (initdb, first run only)")
            self._initdb()

    def _as_service_user(self, binary: str) -> list[str]:
        # PostgreSQL refuses to run as root; setpriv execs in place, so our pid is the server's.
        setpriv = require_binary("setpriv", "util-linux")
        user = f"--reuid={SERVICE_USER}"
        executable = self.executable(str(BIN_DIR / binary))
        return [setpriv, user, f"--regid={SERVICE_USER}", "--init-groups", executable]

    def _initdb(self) -> None:
        # UTF8 and locale C: the only encoding FerretDB accepts, and a locale it does.
        argv = [
            *self._as_service_user("initdb"),
            f"--pgdata={self.data_dir}",
            f"--username={SERVICE_USER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]
        with self.log_path.open("a", encoding="utf-8") as log:
            done = subprocess.run(
                argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir, check=False
            )
        if done.returncode != 0:
            raise ServerError(self.name, f"initdb failed; see {self.log_path}")

    def argv(self) -> list[str]:
        return [
            *self._as_service_user("postgres"),
            "-D", str(self.data_dir),
            "-k", str(self.data_dir),  # the socket beside the data, not in /run/postgresql
            "-p", str(self.port),
            "-c", f"listen_addresses={self.bind_host}",
            "-c", "fsync=on",
            "-c", "synchronous_commit=on",
        ]  # fmt: skip

    def cwd(self) -> Path:
        return self.data_dir

    async def query(self, sql: str, database: str = "postgres") -> str:
        """Run SQL (psql's stdin, so backslash commands work) over TCP; its output, or raise."""
        argv = [
            self.executable(str(BIN_DIR / "psql")),
            "--no-psqlrc", "--no-align", "--tuples-only", "--no-password",
            "--set=ON_ERROR_STOP=1",
            f"--host={self.bind_host}", f"--port={self.port}",
            f"--username={SERVICE_USER}", f"--dbname={database}",
        ]  # fmt: skip
        env = {**os.environ, "PGCONNECT_TIMEOUT": str(PSQL_TIMEOUT_S)}
        child = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            out, err = await child.communicate(sql.encode())
        except asyncio.CancelledError:  # the probe's timeout: leave no psql behind
            child.kill()
            await child.wait()
            raise
        if child.returncode != 0:
            raise RuntimeError(err.decode(errors="replace").strip() or f"psql {child.returncode}")
        return out.decode().strip()

    async def check(self) -> None:
        answer = await self.query("SELECT 40 + 2")
        if answer != "42":
            raise RuntimeError(f"SELECT 40 + 2 answered {answer!r}")

    async def on_ready(self) -> None:
        # The cluster's templates are UTF8 / C already (initdb above), so is the new database.
        await self.query(
            f"SELECT 'CREATE DATABASE {FERRETDB_DATABASE}' WHERE NOT EXISTS"
            f" (SELECT FROM pg_database WHERE datname = '{FERRETDB_DATABASE}')\\gexec"
        )


def ferretdb_url(port: int) -> str:
    """What FerretDB connects to: the `ferretdb` database of our PostgreSQL over loopback."""
    return f"postgres://{SERVICE_USER}@127.0.0.1:{port}/{FERRETDB_DATABASE}"
