"""Exact tables: each key counts an event once, whatever is delivered again; pages sum owners."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.bench.synthetic import synthetic_events
from streams.projection.batch import Batch, Span
from streams.projection.decode import Event
from streams.worker.tables import (
    Tables,
    added,
    applied_offset,
    apply_batch,
    confirm_writes,
    record_positions,
    snapshot,
)


class FakeWindow:
    """Tumbling ranges of 60 s, as Faust's window.ranges answers."""

    def ranges(self, timestamp: float) -> list[tuple[float, float]]:
        start = timestamp - timestamp % 60
        return [(start, start + 59.9)]


class FakeTable(dict[Any, Any]):
    """A dict with Faust's `data`, `table` and `window` attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.data = self
        self.table = self
        self.window = FakeWindow()
        self.unconfirmed: list[asyncio.Future[None]] = []


def fake_tables() -> Tables:
    counters = {
        name: FakeTable() for name in ("player_wins", "game_sizes", "game_counts", "route_counts")
    }
    return Tables(counters, FakeTable(), FakeTable(), FakeTable())  # type: ignore[arg-type]


def committed(events: list[Event], first: int, partition: int = 0) -> Batch:
    placed = [
        dataclasses.replace(e, partition=partition, offset=first + i) for i, e in enumerate(events)
    ]
    span = Span(first, first + len(placed))
    return Batch(placed, [], {partition: span}, len(placed), placed)


def test_added_counts_only_offsets_at_or_past_the_keys_next_offset() -> None:
    assert added(None, [0, 1, 2], 3) == [3, 3]
    assert added([3, 3], [1, 2, 3, 4], 5) == [5, 5]
    assert added([5, 5], [1, 2, 3, 4], 5) is None


@given(st.lists(st.integers(1, 40), min_size=1, max_size=8), st.randoms())
def test_batches_delivered_again_with_other_boundaries_count_each_event_once(
    cuts: list[int], rng: Any
) -> None:
    events = synthetic_events(60, seed=7)
    tables = fake_tables()
    # First delivery in batches of some sizes; then again from a random earlier offset, as
    # after a crash, in batches of other sizes.
    start = 0
    for size in cuts:
        apply_batch(tables, committed(events[start : start + size], start), {0})
        start = min(start + size, len(events))
    restart = rng.randint(0, start)
    while restart < len(events):
        size = rng.randint(1, 25)
        apply_batch(tables, committed(events[restart : restart + size], restart), {0})
        restart += size
    wins = snapshot(tables, {0})["player_wins"]
    assert sum(wins.values()) == len(events)
    assert sum(snapshot(tables, {0})["route_rate_minute"]["kafka"].values()) == len(events)


def test_only_owned_partitions_are_written_and_served() -> None:
    tables = fake_tables()
    events = synthetic_events(5, seed=8)
    apply_batch(tables, committed(events, 0, partition=3), {3})
    assert sum(snapshot(tables, {3})["player_wins"].values()) == 5
    assert snapshot(tables, {0, 1})["player_wins"] == {}
    # A partition this worker lost a moment ago belongs to its new owner: not written here.
    assert apply_batch(tables, committed(events, 0, partition=2), {3}) == 0
    assert snapshot(tables, {2})["player_wins"] == {}


def test_table_positions_advance_for_owned_partitions_and_never_go_back() -> None:
    tables = fake_tables()
    record_positions(tables, committed(synthetic_events(10, seed=8), 0), {0})
    assert applied_offset(tables, 0, []) == 10
    record_positions(tables, Batch([], [], {0: Span(4, 4)}, 0), {0})  # an older probe
    assert applied_offset(tables, 0, []) == 10
    record_positions(tables, committed(synthetic_events(3, seed=8), 20, partition=1), {0})
    assert applied_offset(tables, 1, []) == 0  # not owned: not recorded


def test_snapshot_sums_owned_partitions_and_skips_the_others() -> None:
    tables = fake_tables()
    tables.counters["player_wins"].update({"0:7": [2, 10], "1:7": [3, 4], "2:7": [100, 9]})
    tables.rate_minute.update(
        {
            ("0:kafka", (60.0, 119.9)): [4, 1],
            ("1:kafka", (60.0, 119.9)): [1, 2],
            ("2:kafka", (0, 1)): [9, 3],
        }
    )
    body = snapshot(tables, {0, 1})
    assert body["player_wins"] == {"7": 5}
    assert body["route_rate_minute"] == {"kafka": {"60": 5}}


def test_a_flush_holding_a_batch_and_its_re_delivery_counts_each_offset_once() -> None:
    tables = fake_tables()
    events = synthetic_events(40, seed=9)
    first, again = committed(events[:30], 0), committed(events[10:40], 10)
    merged = Batch(
        first.canonical + again.canonical,
        [],
        {0: Span(0, 40)},
        60,
        first.canonical + again.canonical,
    )
    apply_batch(tables, merged, {0})
    assert sum(snapshot(tables, {0})["player_wins"].values()) == 40


@pytest.mark.asyncio
async def test_confirm_writes_waits_for_every_changelog_send_and_raises_a_failed_one() -> None:
    tables = fake_tables()
    loop = asyncio.get_running_loop()
    sends = [loop.create_future() for _ in range(3)]
    tables.counters["player_wins"].unconfirmed.extend(sends[:2])  # type: ignore[attr-defined]
    tables.rate_live.unconfirmed.append(sends[2])
    waiting = asyncio.create_task(confirm_writes(tables))
    sends[0].set_result(None)
    sends[2].set_result(None)
    await asyncio.sleep(0.05)
    assert not waiting.done()  # one send is still unconfirmed
    sends[1].set_result(None)
    await asyncio.wait_for(waiting, 1)
    assert all(not t.unconfirmed for t in tables.all)

    failed = loop.create_future()
    failed.set_exception(OSError("broker gone"))
    tables.counters["game_counts"].unconfirmed.append(failed)  # type: ignore[attr-defined]
    with pytest.raises(OSError, match="broker gone"):
        await confirm_writes(tables)
