"""`squidstream` subcommands of the streams package: worker, replay, bench streams."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from squidstream.commands import bench_kinds
from squidstream.settings import load_settings
from streams.worker import FAUST_APP

FAUST = Path(sys.executable).with_name("faust")
# Faust's event loop for `squidstream worker` unless FAUST_LOOP says otherwise. uvloop
# projected 1.11x and 1.69x the default loop's events/s in two interleaved pairs of
# `squidstream bench streams --events 20000` (2026-12-01, this 2-core machine, load < 1.8).
WORKER_EVENT_LOOP = "uvloop"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `worker`, `replay` and `bench streams`."""
    worker = subparsers.add_parser(
        "worker", help="run a Faust worker (faust -A streams.worker.app worker)"
    )
    worker.add_argument("--web-port", type=int, help="web port (else SQUID_FAUST_WEB_PORT)")
    worker.add_argument("-l", "--loglevel", default="info", help="log level (default info)")
    worker.set_defaults(func=run_worker)

    replay = subparsers.add_parser("replay", help="rebuild SQL/Redis/Mongo from offset 0")
    replay.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    replay.set_defaults(func=run_replay)

    streams = bench_kinds(subparsers).add_parser("streams", help="drain rates vs bare and naive")
    streams.add_argument("--events", type=int, default=200_000, help="events to preload")
    streams.add_argument("--naive-sample", type=int, default=5_000, help="naive consumer sample")
    streams.add_argument(
        "--workers",
        type=int,
        default=2,
        choices=range(1, 9),
        metavar="N",
        help="also drain with N worker processes (default 2; 1 skips that pass)",
    )
    streams.add_argument("--check", action="store_true", help="exit 1 if any goal is missed")
    streams.set_defaults(func=run_bench)


def run_worker(args: argparse.Namespace) -> int:
    """Replace this process with a Faust worker (settings travel as SQUID_* variables)."""
    env = dict(os.environ)
    env.setdefault("FAUST_LOOP", WORKER_EVENT_LOOP)
    if args.web_port is not None:
        env["SQUID_FAUST_WEB_PORT"] = str(args.web_port)
    settings = load_settings()
    port = str(args.web_port or settings.faust_web_port)
    # Faust's default data folder is `<app id>-data` in the current directory; one per
    # worker under the stack's data folder keeps the table stores out of the work tree and
    # lets a restarted worker reopen its own.
    data_dir = settings.data_dir / "workers" / f"{settings.faust_app_id}-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [str(FAUST), "-A", FAUST_APP, "--datadir", str(data_dir), "worker"]
    command += ["-l", args.loglevel, "--web-port", port]
    os.execve(command[0], command, env)


def run_replay(args: argparse.Namespace) -> int:
    from streams.errors import StreamsError
    from streams.projection.replay import replay

    settings = load_settings()
    try:
        result = asyncio.run(replay(settings, progress=not args.no_progress))
    except StreamsError as exc:
        print(f"squidstream replay: {exc}", file=sys.stderr)
        return 1
    print(
        f"replayed {result.records} records ({result.projected} events, "
        f"{result.dead_letters} dead letters) in {result.seconds:.1f}s = {result.rate:,.0f}/s"
    )
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from streams.bench.drain import bench

    met = asyncio.run(bench(load_settings(), args.events, args.naive_sample, args.workers))
    return 1 if args.check and not met else 0
