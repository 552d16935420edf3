"""SQUID_FAUST_STORE=rocksdb:// keeps the Faust tables in RocksDB (rocksdict) across restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from squidstream.settings import Settings
from squidstream.topics import ensure_topics
from streams.bench.synthetic import synthetic_events
from tests.streams.streams_harness import assert_exactly_once, produce, wait_for_reports, worker
from tests.streams.test_worker_startup import wait_for_tables, worker_log
from tests.streams.workers import worker_test

pytestmark = worker_test(150, pytest.mark.sql, pytest.mark.sql_incidental)
EVENTS = 1000
COUNTERS = ("player_wins", "game_sizes", "game_counts", "route_counts")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The isolated settings, with tables in RocksDB instead of memory."""
    return settings.model_copy(update={"faust_store": "rocksdb://"})


@pytest.mark.asyncio
async def test_tables_on_the_rocksdb_store_are_served_and_survive_a_worker_restart(
    settings: Settings, tmp_path: Path
) -> None:
    events = synthetic_events(EVENTS, seed=51)
    await ensure_topics(settings, {settings.events_topic: settings.events_partitions})
    # The same name twice: the restarted worker gets the first one's --datadir.
    with worker(settings, tmp_path, "rocks") as first:
        await produce(settings, events)
        reports = await wait_for_reports(settings, EVENTS, timeout_s=60)
        before = await wait_for_tables(settings, EVENTS, timeout_s=30)
        first_alive = first.poll() is None
    databases = await asyncio.to_thread(table_databases, tmp_path)
    with worker(settings, tmp_path, "rocks") as second:
        after = await wait_for_tables(settings, EVENTS, timeout_s=45)
        await asyncio.sleep(2)  # a re-applied delta would show up by now
        settled = await wait_for_tables(settings, EVENTS, timeout_s=5)
        second_alive = second.poll() is None
    log = worker_log(tmp_path)
    assert first_alive, log[-3000:]
    assert second_alive, log[-3000:]
    assert_exactly_once(reports, events)
    # RocksDB holds one database per table and partition under the worker's data dir.
    assert {name.split("-")[0] for name in databases} >= {*COUNTERS, "route_rate_minute"}, databases
    for body in (before, after, settled):
        assert totals(body) == dict.fromkeys(COUNTERS, EVENTS), body
        assert body["partitions"] == list(range(settings.events_partitions))
    assert after["player_wins"] == before["player_wins"]
    assert "CRITICAL" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def totals(body: dict[str, Any]) -> dict[str, int]:
    """Each counter table summed over its keys (game_sizes counts games, like the others)."""
    return {name: sum(body.get(name, {}).values()) for name in COUNTERS}


def table_databases(data_dir: Path) -> list[str]:
    """The RocksDB databases ("{table}-{partition}.db" folders) under the workers' data dirs."""
    return sorted(path.name for path in data_dir.rglob("*.db") if path.is_dir())
