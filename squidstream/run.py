"""`squidstream run`: the main job (stack, gateways, ingress, worker, views, flood)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `run` subcommand (filled in by the foundation work)."""
