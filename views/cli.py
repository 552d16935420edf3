"""`squidstream views`: serve the read API and dashboard with uvicorn."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from squidstream.commands import bench_kinds
from squidstream.settings import get_settings

VIEWS_DIR = Path(__file__).resolve().parent


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `views` subcommand."""
    parser = subparsers.add_parser(
        "views", help="serve the read API and the dashboard", description=__doc__
    )
    parser.add_argument("--host", help="bind address (default: SQUID_VIEWS_HOST)")
    parser.add_argument("--port", type=int, help="port (default: SQUID_VIEWS_PORT)")
    parser.add_argument(
        "--install-assets",
        action="store_true",
        help="install the dashboard's chart library (npm ci in views/) and exit",
    )
    parser.set_defaults(func=run)

    bench = bench_kinds(subparsers).add_parser(
        "reports", help="Redis against SQL serving the result reports (on the current data)"
    )
    bench.add_argument("--calls", type=int, default=2000, help="calls per store and report")
    bench.add_argument("--concurrency", type=int, default=20, help="calls in flight")
    bench.add_argument("--check", action="store_true", help="exit 1 if a read goal is missed")
    bench.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    import asyncio

    from views.bench import measure, print_timings

    events, timings = asyncio.run(measure(get_settings(), args.calls, args.concurrency))
    if events == 0:
        print("squidstream bench reports: the stores are empty; run a flood first")
        return 1
    met = print_timings(events, timings, args.concurrency)
    return 1 if args.check and not met else 0


def install_assets() -> int:
    """Run `npm ci` in views/: the chart library comes from package-lock.json."""
    npm = shutil.which("npm")
    if npm is None:
        print("squidstream views: npm is not installed (apt-get install npm)")
        return 1
    return subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=VIEWS_DIR).returncode


def run(args: argparse.Namespace) -> int:
    if args.install_assets:
        return install_assets()
    import uvicorn  # imported here so other subcommands do not pay for it

    from squidstream.auth import is_loopback
    from squidstream.tls import uvicorn_tls_options
    from views.app import create_app

    settings = get_settings()
    host = args.host or settings.views_host
    if settings.read_token is None and not is_loopback(host):
        # Reads are allowed without a token (the reports may be public), but say so.
        print(
            f"squidstream views: listening on {host!r} without SQUID_READ_TOKEN: "
            "every report is readable by anyone who reaches it",
            file=sys.stderr,
        )
    uvicorn.run(
        create_app(settings),
        host=host,
        port=args.port or settings.views_port,
        # Open live streams never end by themselves: give them a short grace on shutdown.
        timeout_graceful_shutdown=3,
        log_level="info",
        **uvicorn_tls_options(settings),
    )
    return 0
