"""`squidstream replay` rebuilds every projection with identical reports."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from squidstream.settings import Settings
from streams.bench.synthetic import synthetic_events
from streams.errors import ReplayError
from streams.projection.replay import replay
from tests.streams.streams_harness import (
    assert_exactly_once,
    produce,
    publish,
    read_reports,
    wait_for_reports,
    worker,
)
from tests.streams.workers import ON_A_CREATED_TOPIC, worker_test

pytestmark = worker_test(300, pytest.mark.sql, ON_A_CREATED_TOPIC)


@pytest.mark.asyncio
async def test_replay_refuses_while_a_worker_runs_then_rebuilds_identical_reports(
    settings: Settings, tmp_path: Path
) -> None:
    via_kafka = synthetic_events(1500, seed=8)
    via_rabbit = synthetic_events(500, route="rabbitmq", seed=9)
    with worker(settings, tmp_path):
        await produce(settings, via_kafka, raw=[b"\x00garbage"])
        await publish(settings, via_rabbit)
        before = await wait_for_reports(settings, 2000)
        with pytest.raises(ReplayError, match="running"):
            await replay(settings, progress=False)
    result = await replay(settings, progress=False)
    after = await read_reports(settings, workers=[])
    assert (result.projected, result.dead_letters) == (2000, 1)
    assert_exactly_once(after, via_kafka + via_rabbit, tables=False)
    assert dataclasses.replace(after, tables=before.tables) == before
    # The tables were dropped with the group: a new worker rebuilds them from offset 0,
    # while every store skips what replay already applied.
    with worker(settings, tmp_path, "after-replay"):
        rebuilt = await wait_for_reports(settings, 2000)
    assert_exactly_once(rebuilt, via_kafka + via_rabbit)
    assert rebuilt == before
