"""`squidstream gateway kafka|rabbitmq` and `squidstream ingress`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from squidstream.route_names import ROUTE_LIST


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `gateway` and `ingress` subcommands."""
    gateway = subparsers.add_parser("gateway", help="run one gRPC gateway (one route)")
    gateway.add_argument("route", choices=ROUTE_LIST)
    gateway.add_argument("--port", type=int, help="default: SQUID_GATEWAY_<ROUTE>_PORT")
    gateway.add_argument(
        "--metrics-port", type=int, help="default: SQUID_GATEWAY_<ROUTE>_METRICS_PORT"
    )
    gateway.add_argument("--profile", type=Path, help="write a pyinstrument HTML profile here")
    gateway.set_defaults(func=_run_gateway)

    ingress = subparsers.add_parser("ingress", help="run the HTTP ingress (FastAPI)")
    ingress.add_argument("--port", type=int, help="default: SQUID_INGRESS_PORT")
    ingress.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ingress.add_argument("--kafka-weight", type=int, help="default: SQUID_ROUTE_WEIGHT_KAFKA")
    ingress.add_argument("--rabbitmq-weight", type=int, help="default: SQUID_ROUTE_WEIGHT_RABBITMQ")
    ingress.set_defaults(func=_run_ingress)


def _run_gateway(args: argparse.Namespace) -> int:
    from gateways.errors import InvalidConfiguration
    from gateways.server import check_bind, gateway_id_of, serve
    from squidstream.settings import get_settings

    settings = get_settings()
    try:
        # Refuse before binding a port or connecting.
        check_bind(args.route, settings)
        gateway_id_of(args.route, settings)
    except InvalidConfiguration as exc:
        print(f"squidstream: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.profile is None:
        asyncio.run(serve(args.route, settings, args.port, args.metrics_port))
        return 0
    from pyinstrument import Profiler

    with Profiler(async_mode="disabled") as profiler:
        asyncio.run(serve(args.route, settings, args.port, args.metrics_port))
    args.profile.write_text(profiler.output_html())
    print(profiler.output_text(show_all=False))
    return 0


def _run_ingress(args: argparse.Namespace) -> int:
    # Weights travel as SQUID_* variables so that every uvicorn worker process reads them.
    if args.kafka_weight is not None:
        os.environ["SQUID_ROUTE_WEIGHT_KAFKA"] = str(args.kafka_weight)
    if args.rabbitmq_weight is not None:
        os.environ["SQUID_ROUTE_WEIGHT_RABBITMQ"] = str(args.rabbitmq_weight)
    import uvicorn

    from squidstream.auth import unprotected_bind_problem
    from squidstream.settings import load_settings
    from squidstream.tls import uvicorn_tls_options

    settings = load_settings()
    problem = unprotected_bind_problem("the ingress", settings.ingress_host, settings.write_token)
    if problem is not None:
        print(f"squidstream: {problem}", file=sys.stderr)
        return 2
    uvicorn.run(
        "gateways.ingress:app_from_env",
        factory=True,
        host=settings.ingress_host,
        port=args.port or settings.ingress_port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        **uvicorn_tls_options(settings),
    )
    return 0
