"""`squidstream flood`, `squidstream traffic`, `squidstream bench ingest` and `bench report`."""

from __future__ import annotations

import argparse
from pathlib import Path

from squidstream.commands import bench_kinds


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `flood`, `traffic` and the `ingest` and `report` kinds of `bench`."""
    flood = subparsers.add_parser("flood", help="run a headless Locust flood")
    flood.add_argument("--users", type=int, default=50)
    flood.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    flood.add_argument("--run-time", default="60s", help="e.g. 60s, 5m")
    flood.add_argument("--kafka-weight", type=int, default=50)
    flood.add_argument("--rabbitmq-weight", type=int, default=50)
    flood.add_argument("--csv-prefix", type=Path, default=Path("loadtest/results/flood"))
    flood.add_argument("--user", choices=("http", "grpc"), default="http")
    flood.add_argument("--host", help="ingress URL (default from SQUID_INGRESS_*)")
    flood.add_argument("--traffic-file", type=Path)
    flood.add_argument("--grpc-batch", type=int, default=100)
    flood.add_argument("--html", type=Path, help="also write Locust's HTML report here")
    flood.set_defaults(func=_run_flood)

    traffic = subparsers.add_parser("traffic", help="write a traffic file for the floods")
    traffic.add_argument("--count", type=int, default=1000)
    traffic.add_argument("--seed", type=int, default=2021)
    traffic.add_argument("--out", type=Path, help="default: loadtest/traffic.json")
    traffic.set_defaults(func=_run_traffic)

    ingest = bench_kinds(subparsers).add_parser("ingest", help="gateway events/s and latency")
    ingest.add_argument("--routes", default="kafka,rabbitmq")
    ingest.add_argument("--unary-calls", type=int, default=5000)
    ingest.add_argument("--unary-concurrency", type=int, default=200)
    ingest.add_argument("--stream-events", type=int, default=100_000)
    ingest.add_argument("--stream-batch", type=int, default=1000)
    ingest.add_argument("--stream-concurrency", type=int, default=4)
    ingest.add_argument("--profile", type=Path, help="folder for pyinstrument gateway profiles")
    ingest.add_argument("--check", action="store_true", help="exit 1 if the routes goal is missed")
    ingest.set_defaults(func=_run_bench)

    report = bench_kinds(subparsers).add_parser(
        "report", help="benchmark the local stack and write report.md, results.json and plots"
    )
    report.add_argument("--quick", action="store_true", help="small sizes: under 3 minutes")
    report.add_argument("--out", type=Path, default=Path("loadtest/results/report"))
    report.add_argument("--check", action="store_true", help="exit 1 if any goal is missed")
    report.set_defaults(func=_run_report)


def _run_flood(args: argparse.Namespace) -> int:
    from loadtest.flood import FloodOptions, read_totals, run_flood
    from squidstream.settings import load_settings

    settings = load_settings()
    options = FloodOptions(
        users=args.users,
        spawn_rate=args.spawn_rate,
        run_time=args.run_time,
        kafka_weight=args.kafka_weight,
        rabbitmq_weight=args.rabbitmq_weight,
        csv_prefix=args.csv_prefix,
        host=args.host or f"http://{settings.ingress_host}:{settings.ingress_port}",
        user=args.user,
        traffic_file=args.traffic_file,
        grpc_batch=args.grpc_batch,
        gateway_kafka=settings.kafka_gateway_target,
        gateway_rabbitmq=settings.rabbitmq_gateway_target,
        html_report=args.html,
    )
    code = run_flood(options)
    totals = read_totals(options.csv_prefix)
    print(
        f"flood: {totals.requests} requests, {totals.failures} failures, "
        f"{totals.requests_per_s:.0f} req/s, median {totals.median_ms:.0f} ms, "
        f"p99 {totals.p99_ms:.0f} ms; stats in {options.csv_prefix}_stats.csv"
    )
    return code


def _run_traffic(args: argparse.Namespace) -> int:
    from loadtest.traffic import DEFAULT_TRAFFIC, dump, generate

    out = args.out or DEFAULT_TRAFFIC
    dump(generate(args.count, args.seed), out)
    print(f"wrote {args.count} games to {out}")
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    import asyncio

    from loadtest.bench import BenchOptions, bench
    from squidstream.settings import load_settings

    options = BenchOptions(
        routes=tuple(route.strip() for route in args.routes.split(",") if route.strip()),
        unary_calls=args.unary_calls,
        unary_concurrency=args.unary_concurrency,
        stream_events=args.stream_events,
        stream_batch=args.stream_batch,
        stream_concurrency=args.stream_concurrency,
        profile_dir=args.profile,
    )
    return asyncio.run(bench(load_settings(), options, args.check))


def _run_report(args: argparse.Namespace) -> int:
    import sys

    from loadtest.report.machine import NotLoopback
    from loadtest.report.run import bench_report
    from squidstream.settings import load_settings

    try:
        return bench_report(load_settings(), args.out, args.quick, args.check)
    except NotLoopback as exc:
        print(f"squidstream bench report: {exc}", file=sys.stderr)
        return 2
