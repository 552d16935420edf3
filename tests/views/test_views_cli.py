"""`squidstream views` parses its options and serves the app it builds."""

from __future__ import annotations

import argparse

from views.cli import register


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["views", *argv])


def test_host_and_port_default_to_the_settings() -> None:
    args = _parse()

    assert (args.host, args.port, args.install_assets) == (None, None, False)


def test_host_and_port_can_be_given() -> None:
    args = _parse("--host", "0.0.0.0", "--port", "8123")

    assert (args.host, args.port) == ("0.0.0.0", 8123)
