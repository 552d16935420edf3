"""One fault at a time in the middle of a flood through both routes; afterwards every store
and every table equals what clients were told was accepted, in total and per route.

The flood mixes request ids of every valid length, retries of accepted ids (half on the
other route) and invalid requests; anything that got 502/503/504 or a lost connection is
retried with the same request id until it gets a definite answer, as a careful client would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aiokafka import AIOKafkaProducer

from squidstream.settings import Settings
from stack import faults
from tests.faults.harness import Flood, Pipeline, check, pipeline_settings, probe_visible, settle

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(600)]
BEFORE_S, AFTER_S = 3.0, 3.0


@dataclass(frozen=True)
class Fault:
    """What to break, and how long the flood runs through it."""

    name: str
    inject: Callable[[Pipeline, Settings], Awaitable[None]]
    workers: int = 1
    weights: tuple[int, int] = (50, 50)
    # The fixture of the private stack it breaks (tests/faults/conftest.py).
    servers: str = "fault_stack"


async def worker_killed_and_restarted(p: Pipeline, stack: Settings) -> None:
    p.kill_worker(0)
    await p.start_worker(0)


async def one_of_two_workers_killed(p: Pipeline, stack: Settings) -> None:
    p.kill_worker(1)


async def gateway_restarted(p: Pipeline, stack: Settings) -> None:
    p.kill_gateway("kafka")
    await p.start_gateway("kafka")


def server_killed_and_restarted(name: str) -> Callable[[Pipeline, Settings], Awaitable[None]]:
    async def inject(p: Pipeline, stack: Settings) -> None:
        await asyncio.to_thread(faults.kill, stack, name)
        await asyncio.sleep(2)
        await asyncio.to_thread(faults.restart, stack, name, lambda _: None)

    return inject


def server_stopped(name: str, seconds: float) -> Callable[[Pipeline, Settings], Awaitable[None]]:
    async def inject(p: Pipeline, stack: Settings) -> None:
        await asyncio.to_thread(faults.pause, stack, name)
        try:
            await asyncio.sleep(seconds)
        finally:
            await asyncio.to_thread(faults.resume, stack, name)

    return inject


async def poison_on_topic_and_queue(p: Pipeline, stack: Settings) -> None:
    settings = p.settings
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(settings.events_topic, b"\xff\xfe poison")
    finally:
        await producer.stop()
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(
                b"\x08\x96\x01 poison", delivery_mode=aio_pika.DeliveryMode.PERSISTENT
            ),
            routing_key=settings.rabbitmq_queue,
        )


FAULTS = [
    Fault("SIGKILL the only worker, restart", worker_killed_and_restarted),
    Fault("SIGKILL one of two workers", one_of_two_workers_killed, workers=2),
    Fault("SIGKILL worker, bridge holds unacked", worker_killed_and_restarted, weights=(0, 100)),
    Fault("SIGKILL + restart Kafka", server_killed_and_restarted("kafka")),
    Fault("SIGKILL + restart RabbitMQ", server_killed_and_restarted("rabbitmq")),
    Fault("SIGKILL + restart Redis", server_killed_and_restarted("redis")),
    Fault("SIGKILL + restart MariaDB", server_killed_and_restarted("mariadb")),
    Fault("SIGKILL + restart FerretDB", server_killed_and_restarted("ferretdb")),
    Fault("SIGSTOP MariaDB 20 s, SIGCONT", server_stopped("mariadb", 20)),
    Fault("SIGKILL the Kafka gateway, restart", gateway_restarted),
    Fault("poison record on topic and queue", poison_on_topic_and_queue),
]


# On three KRaft brokers, the events topic at replication factor 3 and min ISR 2.
CLUSTER_FAULTS = [
    Fault(
        "SIGKILL 1 of 3 Kafka brokers, restart",
        server_killed_and_restarted("kafka-2"),
        servers="cluster_stack",
    ),
]


@pytest.fixture
def servers(fault: Fault, request: pytest.FixtureRequest) -> Settings:
    """The private stack `fault` breaks: one of each server, or three Kafka brokers."""
    stack: Settings = request.getfixturevalue(fault.servers)
    return stack


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "fault", FAULTS + CLUSTER_FAULTS, ids=[f.name for f in FAULTS + CLUSTER_FAULTS]
)
async def test_a_fault_mid_flood_loses_nothing_and_doubles_nothing(
    fault: Fault, servers: Settings, fault_table: list[dict[str, Any]], tmp_path: Path
) -> None:
    await run_fault(fault, servers, fault_table, tmp_path)


async def run_fault(
    fault: Fault, fault_stack: Settings, fault_table: list[dict[str, Any]], tmp_path: Path
) -> None:
    settings = pipeline_settings(fault_stack, "fault", fault.weights)
    pipeline = Pipeline(settings, tmp_path, fault.workers)
    supervisor: asyncio.Task[None] | None = None
    try:
        await pipeline.start()
        flood = Flood(pipeline.ingress_url, seed=len(fault.name))
        stop, supervising = asyncio.Event(), asyncio.Event()
        flooding = asyncio.create_task(flood.run(stop))
        supervisor = asyncio.create_task(pipeline.supervise(supervising))
        await asyncio.sleep(BEFORE_S)
        accepted_before = len(flood.first)
        await fault.inject(pipeline, fault_stack)
        during = len(flood.first) - accepted_before
        recover_s = await probe_visible(flood, settings)
        await asyncio.sleep(AFTER_S)
        stop.set()
        await flooding
        await flood.resolve()
        workers = [pipeline.worker_settings(i) for i in range(fault.workers)]
        alive = [w for i, w in enumerate(workers) if pipeline.workers[i].process.poll() is None]  # type: ignore[union-attr]
        seen = await settle(settings, alive, len(flood.first))
        supervising.set()
        await supervisor
        counts = check(flood, seen)
    finally:
        # The supervisor first: left running after a failure, it restarted the workers that
        # stop() had just stopped, and they outlived the test.
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        pipeline.stop()
    fault_table.append(
        {
            "fault": fault.name,
            "accepted": len(flood.first),
            "during": during,
            "refused_invalid": len(flood.invalid),
            "statuses": dict(flood.statuses),
            "recover_s": round(recover_s, 2),
            **counts,
        }
    )
    assert flood.invalid, "the flood sent invalid requests; they must have been refused"
    assert len(flood.first) > 100
