"""`squidstream bench ingest` keeps to its own names and leaves nothing behind."""

from __future__ import annotations

import grpc
import pytest
import redis.asyncio as aioredis

from loadtest.bench import (
    BenchOptions,
    bench_name,
    cleanup,
    isolated_env,
    measure_unary,
    start_gateway,
)
from loadtest.brokers import delete_keys
from loadtest.processes import free_port, wait_serving
from squidstream.settings import Settings

OPTIONS = BenchOptions(("kafka",), 10, 2, 10, 5, 1)


def test_each_benchmark_gets_a_name_of_its_own() -> None:
    assert bench_name("ingest") != bench_name("ingest")


def test_a_benchmark_gateway_uses_its_name_for_topic_queue_and_reservation_keys() -> None:
    env = isolated_env("bench-ingest-x")

    assert env == {
        "SQUID_EVENTS_TOPIC": "bench-ingest-x",
        "SQUID_RABBITMQ_QUEUE": "bench-ingest-x",
        "SQUID_REDIS_PREFIX": "bench-ingest-x",
    }


async def _keys(client: aioredis.Redis, prefix: str) -> list[bytes]:
    return [key async for key in client.scan_iter(f"{prefix}:*", count=1000)]


@pytest.mark.stack
async def test_deleting_a_prefix_leaves_other_prefixes_alone(stack: Settings) -> None:
    mine, other = bench_name("test"), bench_name("test")
    client = aioredis.Redis(host=stack.redis_host, port=stack.redis_port, db=stack.redis_db)
    try:
        await client.set(f"{mine}:req:1", "x")
        await client.set(f"{mine}:req:2", "x")
        await client.set(f"{other}:req:1", "x")

        deleted = await delete_keys(stack, mine)

        assert (deleted, await _keys(client, mine)) == (2, [])
        assert await _keys(client, other) == [f"{other}:req:1".encode()]
    finally:
        await delete_keys(stack, other)
        await client.aclose()


@pytest.mark.stack
async def test_a_benchmark_gateway_reserves_under_its_prefix_and_cleanup_removes_them(
    stack: Settings,
) -> None:

    name, port = bench_name("test"), free_port()
    child = start_gateway("kafka", name, port, OPTIONS, stack)
    client = aioredis.Redis(host=stack.redis_host, port=stack.redis_port, db=stack.redis_db)
    try:
        target = f"{stack.gateway_host}:{port}"
        await wait_serving(child, target)
        async with grpc.aio.insecure_channel(target) as channel:
            measured = await measure_unary(channel, "kafka", 5, 1)
        reserved = await _keys(client, name)
        child.stop()
        await cleanup(stack, "kafka", name)
        left = await _keys(client, name)
    finally:
        child.stop()
        await delete_keys(stack, name)
        await client.aclose()

    assert measured.accepted == 5
    assert len(reserved) == 5  # one reservation per request id, under the benchmark's prefix
    assert left == []
