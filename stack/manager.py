"""`up`, `down` and `status` of the local stack, serialised by a file lock under data_dir."""

from __future__ import annotations

import asyncio
import fcntl
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from squidstream.settings import Settings
from stack import process
from stack.errors import StackError
from stack.paths import StackPaths
from stack.ports import port_free, port_owner
from stack.servers import (
    ALL_CLASSES,
    SQL_SERVERS,
    PostgreSQL,
    Server,
    selected_classes,
    with_backend,
)
from stack.servers.base import Report
from stack.servers.tidb import TiDB
from stack.starter import probe, running_record, start_all


def print_report(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


def server_names(settings: Settings | None = None) -> list[str]:
    """Every server the stack knows (each broker of a cluster too), or only those these
    settings run (one SQL server, one Kafka layout)."""
    classes = ALL_CLASSES if settings is None else selected_classes(settings)
    return [cls.name for cls in classes]


def make_servers(settings: Settings, only: Sequence[str] | None = None) -> list[Server]:
    """The servers to act on, in start order; unknown or unselected names are a StackError.

    `kafka` in `only` means every broker of the Kafka layout (kafka-1 .. kafka-N of a cluster).
    """
    wanted = set(only or ())
    unknown = sorted(wanted - set(server_names()))
    if unknown:
        raise StackError(f"unknown server(s) {', '.join(unknown)}; known: {server_names()}")
    selected = selected_classes(settings)
    if "kafka" in wanted:
        wanted |= {cls.name for cls in selected if cls.name.startswith("kafka")}
    _refuse_unselected(settings, sorted(wanted - {cls.name for cls in selected} - {"kafka"}))
    paths = StackPaths(settings.data_dir)
    return [cls(settings, paths) for cls in selected if not only or cls.name in wanted]


def _refuse_unselected(settings: Settings, names: list[str]) -> None:
    """A StackError telling which setting would select the first of these servers."""
    if not names:
        return
    name = names[0]
    if name == PostgreSQL.name:
        raise StackError(
            f"postgresql runs only as FerretDB's backend (mongo_backend={settings.mongo_backend});"
            " add --mongo-backend postgresql or set SQUID_MONGO_BACKEND=postgresql"
        )
    if name in SQL_SERVERS:
        raise StackError(
            f"{name} is not the SQL server of these settings (sql_server={settings.sql_server});"
            f" add --sql {name} or set SQUID_SQL_SERVER={name}"
        )
    raise StackError(
        f"{name} is not a broker of these settings (kafka_brokers={settings.kafka_brokers});"
        " add --kafka-brokers N or set SQUID_KAFKA_BROKERS=N with N of at least its number"
    )


def _unselected_with_pid_files(settings: Settings) -> list[Server]:
    """Servers these settings do not select (the other SQL server, the other Kafka layout)
    that still have a pid file: `down` stops them too."""
    paths = StackPaths(settings.data_dir)
    selected = set(selected_classes(settings))
    others = [cls(settings, paths) for cls in ALL_CLASSES if cls not in selected]
    return [server for server in others if server.pid_path.exists()]


@contextmanager
def stack_lock(paths: StackPaths, report: Report) -> Iterator[None]:
    """Hold an exclusive lock so two `up`s (two pytest runs) never start a server twice."""
    paths.run.mkdir(parents=True, exist_ok=True)
    with paths.lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report("another `squidstream stack` command holds the lock; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@dataclass(frozen=True)
class ServerStatus:
    """One row of `squidstream stack status`."""

    name: str
    port: int
    pid: int | None
    healthy: bool
    note: str


def up(
    settings: Settings, only: Sequence[str] | None = None, report: Report = print_report
) -> None:
    """Install, build and start what is missing, then wait until every server answers.

    Raises StackError naming each server that failed, after trying all of them. `only` naming
    ferretdb on the postgresql backend starts PostgreSQL too.
    """
    servers = make_servers(settings, with_backend(settings, only))
    paths = StackPaths(settings.data_dir)
    paths.create()
    with stack_lock(paths, report):
        failures = asyncio.run(start_all(servers, report))
    if failures:
        raise StackError("\n".join(str(failure) for failure in failures))


def build_tidb(settings: Settings, report: Report = print_report) -> None:
    """Build tidb-server if it is missing, without the stack lock.

    A cold build takes ~12 minutes; `make test` runs it in the background while the MariaDB
    pass uses the stack, so it must not hold the lock `up` needs. Two builds never overlap:
    the build script serialises them itself.
    """
    paths = StackPaths(settings.data_dir)
    paths.create()
    server = TiDB(settings, paths)
    if server.binary.exists():
        report(f"tidb: {server.binary} is already built")
        return
    server.build(report)


def down(
    settings: Settings, only: Sequence[str] | None = None, report: Report = print_report
) -> None:
    """Stop the processes that `up` recorded, newest server first; leave anything else alone.

    Without `only`, a SQL server started under another `sql_server` setting is stopped too,
    and so is a Kafka layout (single broker or cluster) started under another `kafka_brokers`.
    """
    servers = make_servers(settings, only)
    if not only:
        servers += _unselected_with_pid_files(settings)
    paths = StackPaths(settings.data_dir)
    paths.create()
    with stack_lock(paths, report):
        _warn_cluster(servers)
        for server in reversed(servers):
            _stop(server, report)


def _warn_cluster(servers: list[Server]) -> None:
    """SIGTERM every node of a Kafka cluster at once before stopping them one by one.

    One at a time, the last node left has no controller quorum to approve its controlled
    shutdown and waits out the whole stop timeout (60 s) before it is killed; told together,
    they all shut down in seconds.
    """
    nodes = [s for s in servers if s.name.startswith("kafka-")]
    for node in nodes if len(nodes) > 1 else ():
        record = process.read_record(node.pid_path)
        if record is not None and process.is_ours(record):
            process.signal_ours(record, signal.SIGTERM)


def _stop(server: Server, report: Report) -> None:
    record = process.read_record(server.pid_path)
    if record is None:
        report(f"{server.name}: not running (no pid file)")
        return
    if not process.is_ours(record):
        server.pid_path.unlink(missing_ok=True)
        process.reap(record.pid)  # our own child that ended (e.g. a cluster node told early)
        if process.start_ticks(record.pid) is None:
            report(f"{server.name}: stopped (pid {record.pid})")
        else:
            report(f"{server.name}: pid {record.pid} is not the process we started; left it alone")
        return
    killed = process.terminate(record, server.stop_timeout_s)
    server.pid_path.unlink(missing_ok=True)
    how = "killed after a timeout" if killed else "stopped"
    report(f"{server.name}: {how} (pid {record.pid})")


def status(settings: Settings, only: Sequence[str] | None = None) -> list[ServerStatus]:
    """Pid and health of each server; a server that answers but is not ours says so."""
    servers = make_servers(settings, only)
    return asyncio.run(_status_all(servers))


async def _status_all(servers: list[Server]) -> list[ServerStatus]:
    return list(await asyncio.gather(*(_status_one(server) for server in servers)))


async def _status_one(server: Server) -> ServerStatus:
    record = running_record(server)
    problem = await probe(server)
    if record is not None:
        note = "running" if problem is None else f"running, not answering: {problem}"
    elif problem is None:
        note = "answers, but was not started by this stack"
    elif not port_free(server.bind_host, server.port):
        note = f"port taken by {port_owner(server.port)}"
    else:
        note = "stopped"
    pid = record.pid if record is not None else None
    return ServerStatus(server.name, server.port, pid, problem is None, note)
