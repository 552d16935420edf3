"""What the packages need to hang their subcommands on the console command, without importing it.

The console command lives in the shell (`squidshell/cli.py`), which imports every package's
`cli` module; those modules get the shared `bench` parser from here instead, so no package
imports the shell.
"""

from __future__ import annotations

import argparse
import sys

# The console command as a child process runs it: `python -m squidshell.cli ARGS`.
CONSOLE_MODULE = "squidshell.cli"


def console_argv(*args: str) -> list[str]:
    """argv that runs `squidstream ARGS` with this interpreter (no PATH lookup, same venv)."""
    return [sys.executable, "-m", CONSOLE_MODULE, *args]


def bench_kinds(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The `bench KIND` subparsers: each package that has a benchmark adds its kind here."""
    bench = subparsers.choices.get("bench")
    if bench is None:
        bench = subparsers.add_parser("bench", help="benchmarks that print numbers")
        return bench.add_subparsers(dest="bench", metavar="KIND", required=True)
    for action in bench._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return bench.add_subparsers(dest="bench", metavar="KIND", required=True)
