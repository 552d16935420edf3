"""`squidstream bench ingest`: accepted events/s and latency per route, unary and streaming."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from loadtest.brokers import delete_keys, delete_queue, delete_topic
from loadtest.processes import Child, free_port, wait_serving
from loadtest.traffic import load
from squidstream.bench_goals import ROUTE_RATIO
from squidstream.gateway_methods import PLAY as PLAY
from squidstream.gateway_methods import PLAY_STREAM as PLAY_STREAM
from squidstream.grpc_client import gateway_channel
from squidstream.percentiles import percentile
from squidstream.proto import game_pb2
from squidstream.settings import Settings


@dataclass(frozen=True, slots=True)
class BenchOptions:
    routes: tuple[str, ...]
    unary_calls: int
    unary_concurrency: int
    stream_events: int
    stream_batch: int
    stream_concurrency: int
    profile_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class Measured:
    """One phase's numbers; latencies in milliseconds."""

    route: str
    mode: str
    accepted: int
    failed: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        latencies = self.latencies_ms or [0.0]
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        rate = self.rate
        return (
            f"{self.route:<9} {self.mode:<10} {self.accepted:>8} {self.failed:>6} "
            f"{self.seconds:>8.2f} {rate:>10.0f} {p50:>8.2f} {p99:>8.2f}"
        )


HEADER = (
    f"{'route':<9} {'mode':<10} {'accepted':>8} {'failed':>6} "
    f"{'seconds':>8} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8}"
)


def _requests(count: int) -> list[game_pb2.PlayRequest]:
    games = load()
    return [
        game_pb2.PlayRequest(
            request_id=str(uuid.uuid4()),
            game_id=games[n % len(games)].game_id,
            players=games[n % len(games)].players,
        )
        for n in range(count)
    ]


async def measure_unary(
    channel: grpc.aio.Channel, route: str, calls: int, concurrency: int
) -> Measured:
    play: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]
    play = channel.unary_unary(PLAY, request_serializer=None, response_deserializer=None)
    payloads = [request.SerializeToString() for request in _requests(calls)]
    latencies: list[float] = []
    failures = 0

    async def worker(mine: list[bytes]) -> None:
        nonlocal failures
        for payload in mine:
            started = time.perf_counter()
            try:
                await play(payload, timeout=30)
            except grpc.aio.AioRpcError:
                failures += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker(payloads[n::concurrency]) for n in range(concurrency)))
    seconds = time.perf_counter() - started
    return Measured(route, "unary", len(latencies), failures, seconds, latencies)


async def measure_stream(
    channel: grpc.aio.Channel, route: str, events: int, batch: int, concurrency: int
) -> Measured:
    call: grpc.aio.StreamStreamMultiCallable[bytes, game_pb2.PlayBatchReply]
    call = channel.stream_stream(
        PLAY_STREAM,
        request_serializer=None,
        response_deserializer=game_pb2.PlayBatchReply.FromString,
    )
    requests = _requests(events)
    # Serialized up front so the client spends its time waiting on the gateway, not building.
    batches = [
        game_pb2.PlayBatch(requests=requests[n : n + batch]).SerializeToString()
        for n in range(0, events, batch)
    ]
    latencies: list[float] = []
    counts = [0, 0]

    async def worker(mine: list[bytes]) -> None:
        stream = call(timeout=600)
        for payload in mine:
            started = time.perf_counter()
            await stream.write(payload)
            reply = await stream.read()
            assert isinstance(reply, game_pb2.PlayBatchReply)
            latencies.append((time.perf_counter() - started) * 1000)
            failed = sum(1 for result in reply.results if result.HasField("error"))
            counts[0] += len(reply.results) - failed
            counts[1] += failed
        await stream.done_writing()

    started = time.perf_counter()
    await asyncio.gather(*(worker(batches[n::concurrency]) for n in range(concurrency)))
    seconds = time.perf_counter() - started
    return Measured(route, f"stream/{batch}", counts[0], counts[1], seconds, latencies)


def bench_name(kind: str) -> str:
    """A name nobody else uses, for one benchmark's topic, queue and Redis prefix."""
    return f"bench-{kind}-{uuid.uuid4().hex[:8]}"


def isolated_env(name: str) -> dict[str, str]:
    """A gateway's SQUID_* names under `name`: its topic, its queue and its reservation keys.

    Without the prefix a benchmark's gateway reserves request ids under the shared stack's
    default `squid:req:` and leaves them there for the retry horizon.
    """
    return {"SQUID_EVENTS_TOPIC": name, "SQUID_RABBITMQ_QUEUE": name, "SQUID_REDIS_PREFIX": name}


def start_gateway(
    route: str, name: str, port: int, options: BenchOptions, settings: Settings
) -> Child:
    env = {**isolated_env(name), "SQUID_EVENTS_PARTITIONS": str(settings.events_partitions)}
    args = ["gateway", route, "--port", str(port)]
    log = None
    if options.profile_dir is not None:
        options.profile_dir.mkdir(parents=True, exist_ok=True)
        args += ["--profile", str(options.profile_dir / f"gateway-{route}.html")]
        log = options.profile_dir / f"gateway-{route}.txt"
    return Child(args, env, log).start()


async def bench_route(route: str, settings: Settings, options: BenchOptions) -> list[Measured]:
    """Start a throwaway gateway for `route` on its own topic or queue and measure it."""
    port, name = free_port(), bench_name("ingest")
    child = start_gateway(route, name, port, options, settings)
    target = f"{settings.gateway_host}:{port}"
    try:
        await wait_serving(child, target, settings=settings)
        async with gateway_channel(settings, target) as channel:
            await measure_unary(
                channel, route, 200, 50
            )  # warm-up: connections, caches, topic metadata
            return [
                await measure_unary(channel, route, options.unary_calls, options.unary_concurrency),
                await measure_stream(
                    channel,
                    route,
                    options.stream_events,
                    options.stream_batch,
                    options.stream_concurrency,
                ),
            ]
    finally:
        child.stop()
        await cleanup(settings, route, name)


async def cleanup(settings: Settings, route: str, name: str) -> None:
    """Drop what the benchmark's gateway wrote under `name`: nobody projects it."""
    if route == "kafka":
        await delete_topic(settings, name)
    else:
        await delete_queue(settings, name)
    await delete_keys(settings, name)


async def bench(settings: Settings, options: BenchOptions, check: bool = False) -> int:
    """Run every route in turn and print one table and the routes goal; 1 if a call failed,
    or with `check` if the goal is missed."""
    results: list[Measured] = []
    for route in options.routes:
        results += await bench_route(route, settings, options)
    print(HEADER)
    for measured in results:
        print(measured.row())
    met = routes_goal(results)
    failed = any(measured.failed for measured in results)
    return 1 if failed or (check and met is False) else 0


def routes_goal(results: Sequence[Measured]) -> bool | None:
    """Print whether the Kafka route's best streamed rate is ROUTE_RATIO x the RabbitMQ
    route's; None (and a line saying so) when a route was not measured."""
    best = {
        route: max((m.rate for m in results if m.route == route and m.mode != "unary"), default=0.0)
        for route in ("kafka", "rabbitmq")
    }
    if not all(best.values()):
        print("goal routes: not measured (needs both routes' PlayStream)")
        return None
    ratio = best["kafka"] / best["rabbitmq"]
    met = ratio >= ROUTE_RATIO
    print(
        f"goal routes (Kafka >= {ROUTE_RATIO:.0f}x RabbitMQ on PlayStream): "
        f"{'met' if met else 'MISSED'}: {best['kafka']:,.0f} vs {best['rabbitmq']:,.0f}"
        f" events/s = {ratio:.1f}x"
    )
    return met
