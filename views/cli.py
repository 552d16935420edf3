"""`squidstream` subcommands of the views package."""

from __future__ import annotations

import argparse


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add this package's subcommands (none yet)."""
