"""`squidstream stack up|down|status|build|kill|pause|resume|restart`: the local servers
under `settings.data_dir`; the last four are the fault controls of stack.faults."""

from __future__ import annotations

import argparse
import logging
import sys

from squidstream.settings import Settings, load_settings
from stack import faults, manager
from stack.errors import StackError
from stack.servers import MONGO_BACKENDS, SQL_DEFAULT_PORTS, SQL_SERVERS
from stack.servers.kafka import MAX_BROKERS

FAULT_HELP = {
    "kill": "SIGKILL one server (its whole process group); returns once it is gone",
    "pause": "SIGSTOP one server; it keeps its sockets but answers nothing",
    "resume": "SIGCONT a paused server",
    "restart": "start a killed server again and wait until it is healthy",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `stack` with `up`, `down`, `status` and the fault controls."""
    parser = subparsers.add_parser("stack", help="start, stop and check the local servers")
    actions = parser.add_subparsers(dest="stack_command", metavar="ACTION", required=True)
    for name, handler, text in (
        ("up", _up, "install/build what is missing, start the servers, wait until healthy"),
        ("down", _down, "stop the servers that `up` started"),
        ("status", _status, "a table of the servers; exit 1 if any is unhealthy"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "--only",
            nargs="+",
            metavar="NAME",
            choices=manager.server_names(),
            help=f"act on these servers only ({', '.join(manager.server_names())})",
        )
        _add_layout_options(action)
        action.set_defaults(func=handler)
    build = actions.add_parser(
        "build",
        help="build a server from source if it is missing (tidb), without starting it",
        description="Build tidb-server if it is missing. Does not take the stack lock, so it"
        " can run beside `up` and the tests; a later `up` waits for it instead of building"
        " again. TIDB_BUILD_NICE sets its nice level (default 10).",
    )
    build.add_argument("name", metavar="NAME", choices=["tidb"], help="the server (tidb)")
    build.set_defaults(func=_build)
    for name, text in FAULT_HELP.items():
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "name",
            metavar="NAME",
            choices=manager.server_names(),
            help=f"the server ({', '.join(manager.server_names())})",
        )
        _add_layout_options(action)
        action.set_defaults(func=_fault, fault=name)


def _add_layout_options(action: argparse.ArgumentParser) -> None:
    action.add_argument(
        "--sql",
        choices=sorted(SQL_SERVERS),
        help="the SQL server to run (sets SQUID_SQL_SERVER for this command; without"
        f" SQUID_SQL_PORT it listens on its own default port: {_default_ports()})",
    )
    action.add_argument(
        "--mongo-backend",
        choices=MONGO_BACKENDS,
        help="FerretDB's backend (sets SQUID_MONGO_BACKEND for this command): sqlite files,"
        " or postgresql, which also runs the stack's PostgreSQL on SQUID_POSTGRES_PORT",
    )
    action.add_argument(
        "--kafka-brokers",
        type=int,
        choices=range(1, MAX_BROKERS + 1),
        metavar="N",
        help="Kafka brokers (sets SQUID_KAFKA_BROKERS for this command): 1 is `kafka` on"
        " SQUID_KAFKA_PORT; N > 1 runs kafka-1 .. kafka-N, node i on SQUID_KAFKA_PORT + 100*i"
        " (controller SQUID_KAFKA_CONTROLLER_PORT + 100*i)",
    )


def _default_ports() -> str:
    return ", ".join(f"{name} {port}" for name, port in SQL_DEFAULT_PORTS.items())


def command_settings(args: argparse.Namespace) -> Settings:
    """The settings from the environment, with `--sql`, `--mongo-backend` and
    `--kafka-brokers` applied.

    `--sql tidb` alone moves the SQL port to TiDB's 4000, so it never collides with a MariaDB
    on 3306; an explicit SQUID_SQL_PORT always wins.
    """
    settings = load_settings()
    update: dict[str, object] = {}
    brokers: int | None = getattr(args, "kafka_brokers", None)
    if brokers is not None:
        update["kafka_brokers"] = brokers
    backend: str | None = getattr(args, "mongo_backend", None)
    if backend is not None:
        update["mongo_backend"] = backend
    chosen: str | None = args.sql
    if chosen is not None:
        update["sql_server"] = chosen
        if "sql_port" not in settings.model_fields_set:
            update["sql_port"] = SQL_DEFAULT_PORTS[chosen]
    return settings.model_copy(update=update) if update else settings


def _sql_hint(settings: Settings) -> str:
    """What the other processes need to reach the SQL server `up --sql` started."""
    return (
        f"SQL server {settings.sql_server} on port {settings.sql_port}; workers and views need"
        f" SQUID_SQL_SERVER={settings.sql_server} SQUID_SQL_PORT={settings.sql_port}"
    )


def _quiet_drivers() -> None:
    # Health probes fail on purpose while a server boots; the drivers would log each attempt.
    for name in ("aiokafka", "aio_pika", "aiormq", "pymongo"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _up(args: argparse.Namespace) -> int:
    _quiet_drivers()
    try:
        settings = command_settings(args)
        manager.up(settings, args.only)
    except StackError as exc:
        print(f"squidstream stack up failed:\n{exc}", file=sys.stderr)
        return 1
    if args.sql is not None:
        manager.print_report(_sql_hint(settings))
    return 0


def _build(args: argparse.Namespace) -> int:
    try:
        manager.build_tidb(load_settings())
    except StackError as exc:
        print(f"squidstream stack build {args.name} failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _down(args: argparse.Namespace) -> int:
    try:
        manager.down(command_settings(args), args.only)
    except StackError as exc:
        print(f"squidstream stack down failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _status(args: argparse.Namespace) -> int:
    _quiet_drivers()
    try:
        rows = manager.status(command_settings(args), args.only)
    except StackError as exc:
        print(f"squidstream stack status failed: {exc}", file=sys.stderr)
        return 1
    print(format_table(rows))
    return 0 if all(row.healthy for row in rows) else 1


def _fault(args: argparse.Namespace) -> int:
    _quiet_drivers()
    try:
        settings = command_settings(args)
        if args.fault == "restart":
            faults.restart(settings, args.name)
            return 0
        act = {"kill": faults.kill, "pause": faults.pause, "resume": faults.resume}[args.fault]
        record = act(settings, args.name)
    except StackError as exc:
        print(f"squidstream stack {args.fault} failed: {exc}", file=sys.stderr)
        return 1
    done = {"kill": "killed", "pause": "paused", "resume": "resumed"}[args.fault]
    manager.print_report(f"{args.name}: {done} (pid {record.pid} and its process group)")
    return 0


def format_table(rows: list[manager.ServerStatus]) -> str:
    """Rows as aligned columns: server, port, pid, healthy, note."""
    header = ("server", "port", "pid", "healthy", "note")
    cells = [header] + [
        (row.name, str(row.port), str(row.pid or "-"), "yes" if row.healthy else "no", row.note)
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)), line[-1]])
        for line in cells
    )
