"""`squidstream stack up|down|status`: the local servers under `settings.data_dir`."""

from __future__ import annotations

import argparse
import logging
import sys

from squidstream.settings import load_settings
from stack import manager
from stack.errors import StackError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `stack` with its `up`, `down` and `status` subcommands."""
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
        action.set_defaults(func=handler)


def _quiet_drivers() -> None:
    # Health probes fail on purpose while a server boots; the drivers would log each attempt.
    for name in ("aiokafka", "aio_pika", "aiormq", "pymongo"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _up(args: argparse.Namespace) -> int:
    _quiet_drivers()
    try:
        manager.up(load_settings(), args.only)
    except StackError as exc:
        print(f"squidstream stack up failed:\n{exc}", file=sys.stderr)
        return 1
    return 0


def _down(args: argparse.Namespace) -> int:
    try:
        manager.down(load_settings(), args.only)
    except StackError as exc:
        print(f"squidstream stack down failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _status(args: argparse.Namespace) -> int:
    _quiet_drivers()
    try:
        rows = manager.status(load_settings(), args.only)
    except StackError as exc:
        print(f"squidstream stack status failed: {exc}", file=sys.stderr)
        return 1
    print(format_table(rows))
    return 0 if all(row.healthy for row in rows) else 1


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
