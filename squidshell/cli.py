"""The `squidstream` console command: each package registers its own subcommands.

Subcommand modules are imported lazily through their `register` function so that
`squidstream stack up` does not import Faust, gRPC or FastAPI.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from squidstream.settings import SettingsError

# Modules with `register(subparsers) -> None`; each sets `func(args) -> int` on its parsers.
COMMAND_MODULES = (
    "stack.cli",
    "gateways.cli",
    "streams.cli",
    "views.cli",
    "loadtest.cli",
    "squidshell.run",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="squidstream",
        description="Event-sourced game-tournament streaming platform.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"squidstream: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
