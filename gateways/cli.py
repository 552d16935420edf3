"""`squidstream` subcommands of the gateways package."""

from __future__ import annotations

import argparse


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add this package's subcommands (none yet)."""
