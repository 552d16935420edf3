"""Ingest per route: accepted events/s against latency at several client concurrencies.

Reuses `squidstream bench ingest`'s measurements (loadtest/bench.py) on a throwaway gateway
per route, with its own topic or queue, both durable (acks=all; publisher confirms).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from loadtest.bench import (
    Measured,
    bench_name,
    cleanup,
    isolated_env,
    measure_stream,
    measure_unary,
)
from loadtest.processes import Child, free_port, wait_serving
from loadtest.report.stats import Latency, rate
from squidstream.grpc_client import gateway_channel
from squidstream.route_names import ROUTE_LIST
from squidstream.settings import Settings

ROUTES = ROUTE_LIST


@dataclass(frozen=True, slots=True)
class IngestPlan:
    unary_calls: int
    unary_concurrency: tuple[int, ...]
    stream_events: int
    stream_batch: int
    stream_concurrency: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class IngestPoint:
    route: str
    mode: str  # "unary" or "stream/<batch>"
    concurrency: int
    accepted: int
    failed: int
    seconds: float
    events_per_s: float
    latency: Latency | None  # of one call: a unary call or a whole batch


def point(measured: Measured, concurrency: int) -> IngestPoint:
    return IngestPoint(
        route=measured.route,
        mode=measured.mode,
        concurrency=concurrency,
        accepted=measured.accepted,
        failed=measured.failed,
        seconds=round(measured.seconds, 3),
        events_per_s=round(rate(measured.accepted, measured.seconds), 1),
        latency=Latency.of(measured.latencies_ms),
    )


def gateway_env(settings: Settings, name: str) -> dict[str, str]:
    return {**settings.as_env(), **isolated_env(name)}


async def ingest_route(
    route: str,
    settings: Settings,
    plan: IngestPlan,
    on_start: Callable[[str, int], None],
    tick: Callable[[], None],
) -> list[IngestPoint]:
    port, name = free_port(), bench_name("report-ingest")
    child = Child(["gateway", route, "--port", str(port)], gateway_env(settings, name)).start()
    assert child.process is not None
    on_start(f"gateway-{route}", child.process.pid)
    target = f"{settings.gateway_host}:{port}"
    points: list[IngestPoint] = []
    try:
        await wait_serving(child, target, settings=settings)
        async with gateway_channel(settings, target) as channel:
            await measure_unary(channel, route, 100, 20)  # warm-up: connections, topic metadata
            for concurrency in plan.unary_concurrency:
                measured = await measure_unary(channel, route, plan.unary_calls, concurrency)
                points.append(point(measured, concurrency))
                tick()
            for concurrency in plan.stream_concurrency:
                measured = await measure_stream(
                    channel, route, plan.stream_events, plan.stream_batch, concurrency
                )
                points.append(point(measured, concurrency))
                tick()
        return points
    finally:
        child.stop()
        await cleanup(settings, route, name)


def ingest_steps(plan: IngestPlan) -> int:
    return len(ROUTES) * (len(plan.unary_concurrency) + len(plan.stream_concurrency))
