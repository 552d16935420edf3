"""A 60 s headless Locust flood through the ingress, both routes: every success is one event."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.brokers import delete_queue, delete_topic, queue_depth, topic_records
from loadtest.flood import FloodOptions, read_stats, run_flood
from loadtest.processes import Child, free_port, wait_http, wait_serving
from squidstream.settings import Settings

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def _stack_env(settings: Settings, name: str) -> dict[str, str]:
    """SQUID_* variables that point children at the shared servers and this test's names."""
    return {
        "SQUID_KAFKA_HOST": settings.kafka_host,
        "SQUID_KAFKA_PORT": str(settings.kafka_port),
        "SQUID_RABBITMQ_HOST": settings.rabbitmq_host,
        "SQUID_RABBITMQ_PORT": str(settings.rabbitmq_port),
        "SQUID_EVENTS_TOPIC": name,
        "SQUID_RABBITMQ_QUEUE": name,
        "SQUID_GATEWAY_KAFKA_PORT": str(free_port()),
        "SQUID_GATEWAY_RABBITMQ_PORT": str(free_port()),
        "SQUID_INGRESS_PORT": str(free_port()),
    }


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in reversed(started):
        child.stop()


@pytest.mark.asyncio
async def test_a_minute_of_flood_ends_without_failures_and_counts_match(
    stack: Settings, tmp_path: Path, children: list[Child]
) -> None:
    name = f"test-flood-{uuid.uuid4().hex[:10]}"
    env = _stack_env(stack, name)
    try:
        for route in ("kafka", "rabbitmq"):
            gateway = Child(["gateway", route], env, tmp_path / f"{route}.log").start()
            children.append(gateway)
            port = env[f"SQUID_GATEWAY_{route.upper()}_PORT"]
            await wait_serving(gateway, f"127.0.0.1:{port}")
        ingress = Child(["ingress"], env, tmp_path / "ingress.log").start()
        children.append(ingress)
        url = f"http://127.0.0.1:{env['SQUID_INGRESS_PORT']}"
        await wait_http(ingress, f"{url}/api/routes")
        options = FloodOptions(
            users=20,
            spawn_rate=20,
            run_time="60s",
            kafka_weight=50,
            rabbitmq_weight=50,
            csv_prefix=tmp_path / "flood",
            host=url,
        )
        exit_code = run_flood(options)
        stats = read_stats(options.csv_prefix)
        on_topic = len(await topic_records(stack, name))
        on_queue = await queue_depth(stack, name)
    finally:
        await delete_topic(stack, name)
        await delete_queue(stack, name)
    total = stats["Aggregated"]
    assert (exit_code, total.failures) == (0, 0)
    assert total.requests > 1000
    assert on_topic == stats["POST /api/games [kafka]"].requests
    assert on_queue == stats["POST /api/games [rabbitmq]"].requests
    assert on_topic + on_queue == total.requests
