"""The RabbitMQ bridge outlives a broker restart: it reconnects and loses or doubles nothing.

This is the one test that stops a shared server: it restarts the stack's RabbitMQ (the same
as `squidstream stack down --only rabbitmq` then `up --only rabbitmq`) and always starts it
again, whatever happens. The queue is durable and the messages persistent, so nothing queued
is lost by the restart; unacked deliveries come back and the stores' de-duplication absorbs them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest

from squidstream.settings import Settings
from stack import manager
from streams.bench.synthetic import synthetic_events
from streams.projection.decode import Event
from tests.streams.streams_harness import (
    assert_exactly_once,
    publish,
    read_reports,
    wait_for_reports,
    worker,
)
from tests.streams.test_worker_startup import worker_log

pytestmark = [
    pytest.mark.stack,
    pytest.mark.slow,
    pytest.mark.sql,
    pytest.mark.sql_incidental,
    pytest.mark.timeout(150),
]
log = logging.getLogger(__name__)
BEFORE, DURING, AFTER = 300, 1000, 300
# Long enough for the bridge to fail a few reconnect attempts while the broker is away.
DOWNTIME_S = 3.0


@pytest.fixture
async def settings(settings: Settings) -> AsyncIterator[Settings]:
    """The isolated settings; this test's queues are deleted afterwards too."""
    yield settings
    await delete_queues(settings)


def rabbit_events(count: int, seed: int) -> list[Event]:
    return [dataclasses.replace(e, route="rabbitmq") for e in synthetic_events(count, seed=seed)]


@pytest.mark.asyncio
async def test_the_bridge_reconnects_after_a_rabbitmq_restart_and_projects_each_event_once(
    stack: Settings, settings: Settings, tmp_path: Path
) -> None:
    first, during = rabbit_events(BEFORE, seed=41), rabbit_events(DURING, seed=42)
    second = rabbit_events(AFTER, seed=43)
    events = first + during + second
    with worker(settings, tmp_path) as process:
        await publish(settings, first)
        before = await wait_for_reports(settings, BEFORE, timeout_s=60)
        assert before.settled(BEFORE), before
        # Published but not yet projected when the broker stops: some queued, some in flight.
        await publish(settings, during)
        broker_was_down = await asyncio.to_thread(restart_rabbitmq, stack, DOWNTIME_S)
        await publish(settings, second)
        reports = await wait_for_reports(settings, len(events), timeout_s=60)
        await asyncio.sleep(1.5)  # let a late re-delivered duplicate land before the final read
        reports = await read_reports(settings)
        alive = process.poll() is None
    text = worker_log(tmp_path)
    assert broker_was_down, "RabbitMQ answered while stopped: the restart did not happen"
    assert alive, text[-3000:]
    assert_exactly_once(reports, events)
    assert reports.sql["routes"] == {"rabbitmq": len(events)}
    # Each retry is logged, the delay doubles, and the worker's tasks never failed.
    # The second delay is jittered between half and all of 1 s (squidstream.backoff).
    assert re.search(r"reconnecting to RabbitMQ in (0\.[5-9]|1\.0)s \(attempt 2\)", text), text[
        -3000:
    ]
    assert "reconnected to RabbitMQ after" in text, text[-3000:]
    assert "CRITICAL" not in text, text[-3000:]


def restart_rabbitmq(stack: Settings, downtime_s: float) -> bool:
    """Stop the stack's RabbitMQ, wait, start it again (always); True if it was really down."""
    try:
        manager.down(stack, only=["rabbitmq"], report=log.warning)
        was_down = not asyncio.run(answers(stack))
        time.sleep(downtime_s)
    finally:
        manager.up(stack, only=["rabbitmq"], report=log.warning)
    return was_down


async def answers(settings: Settings) -> bool:
    try:
        connection = await aio_pika.connect(settings.rabbitmq_url, timeout=2)
    except (aio_pika.exceptions.AMQPError, OSError, TimeoutError):
        return False
    await connection.close()
    return True


async def delete_queues(settings: Settings) -> None:
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        for name in (settings.rabbitmq_queue, settings.rabbitmq_dead_letter_queue):
            await channel.queue_delete(name)
