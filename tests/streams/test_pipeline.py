"""The overlapped pipeline: decode per fetch, write per store, commit strictly in order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from streams import pipeline as pipeline_module
from streams.decode import Event, encode
from streams.pipeline import Batch, Pipeline, make_batch
from streams.synthetic import synthetic_events

TOPIC = "t"


def record(partition: int, offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(TOPIC, partition, offset, 1000 + offset, 0, None, value, None, 0, 0, ())


class FakeStore:
    """Records what it was given; `gate` holds writes back, `failures` makes the first fail."""

    def __init__(self, name: str, failures: int = 0) -> None:
        self.name = name
        self.writes: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures = failures

    async def apply(self, batch: Sequence[Event]) -> None:
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise RuntimeError(f"{self.name} is down")
        self.writes.append([e.event_id for e in batch])

    async def reset(self) -> None:
        self.writes.clear()

    async def close(self) -> None:
        return None


def batch_of(events: Sequence[Event], partition: int = 0, first_offset: int = 0) -> Batch:
    fetched = {
        TopicPartition(TOPIC, partition): [
            record(partition, first_offset + i, encode(e)) for i, e in enumerate(events)
        ]
    }
    return make_batch(fetched)[0]


def test_make_batch_dead_letters_bad_records_and_commits_past_the_last_offset() -> None:
    good = synthetic_events(3, seed=11)
    fetched = {
        TopicPartition(TOPIC, 0): [record(0, 5, encode(good[0])), record(0, 6, b"\xff junk")],
        TopicPartition(TOPIC, 2): [record(2, 9, encode(good[1])), record(2, 10, encode(good[1]))],
    }
    batch, letters = make_batch(fetched)
    assert [e.event_id for e in batch.events] == [good[0].event_id, good[1].event_id]
    assert [letter.offset for letter in letters] == [6]
    assert batch.offsets == {TopicPartition(TOPIC, 0): 7, TopicPartition(TOPIC, 2): 11}
    assert batch.records == 4
    assert {p: d.events for p, d in batch.deltas.items()} == {0: 1, 2: 1}
    assert batch.timestamps == {0: 1006, 2: 1010}


@pytest.mark.asyncio
async def test_batches_commit_in_fetch_order_only_after_every_store_holds_them() -> None:
    fast, slow = FakeStore("fast"), FakeStore("slow")
    slow.gate.clear()
    committed: list[int] = []
    events = synthetic_events(6, seed=12)
    first, second = batch_of(events[:3]), batch_of(events[3:], first_offset=3)

    async def on_committed(batch: Batch) -> None:
        committed.append(next(iter(batch.offsets.values())))

    async with Pipeline([fast, slow], on_committed, max_inflight=4) as pipe:
        for batch in (first, second):
            pipe.begin()
            await pipe.submit(batch)
        await asyncio.sleep(0.05)
        assert committed == []  # the fast store is done, the slow one holds both back
        assert len(fast.writes) >= 1
        slow.gate.set()
        await asyncio.wait_for(pipe.drain(), 5)
    assert committed == [3, 6]
    written = [event_id for write in slow.writes for event_id in write]
    assert sorted(written) == sorted(e.event_id for e in events)


@pytest.mark.asyncio
async def test_batches_queued_behind_a_slow_write_are_merged_into_one_write() -> None:
    store = FakeStore("sql")
    store.gate.clear()
    events = synthetic_events(9, seed=13)
    batches = [batch_of(events[i : i + 3], first_offset=i) for i in (0, 3, 6)]

    async def on_committed(batch: Batch) -> None:
        return None

    async with Pipeline([store], on_committed, max_inflight=4) as pipe:
        for batch in batches:
            pipe.begin()
            await pipe.submit(batch)
            await asyncio.sleep(0.01)  # the first write starts and blocks; the rest queue up
        store.gate.set()
        await asyncio.wait_for(pipe.drain(), 5)
    assert [len(write) for write in store.writes] == [3, 6]


@pytest.mark.asyncio
async def test_a_failing_store_is_retried_and_nothing_commits_until_it_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline_module, "FIRST_BACKOFF_S", 0.01)
    flaky = FakeStore("mongo", failures=2)
    committed: list[Batch] = []

    async def on_committed(batch: Batch) -> None:
        assert flaky.writes, "committed before the store took the batch"
        committed.append(batch)

    batch = batch_of(synthetic_events(4, seed=14))
    async with Pipeline([flaky], on_committed) as pipe:
        pipe.begin()
        await pipe.submit(batch)
        await asyncio.wait_for(pipe.drain(), 5)
    assert committed == [batch]
    assert flaky.failures == 0
    assert len(flaky.writes) == 1


@pytest.mark.asyncio
async def test_at_most_max_inflight_batches_are_open_at_once() -> None:
    store = FakeStore("redis")
    store.gate.clear()
    events = synthetic_events(3, seed=15)

    async def on_committed(batch: Batch) -> None:
        return None

    async with Pipeline([store], on_committed, max_inflight=2) as pipe:
        for i, event in enumerate(events[:2]):
            pipe.begin()
            await pipe.submit(batch_of([event], first_offset=i))
        pipe.begin()
        third = asyncio.create_task(pipe.submit(batch_of(events[2:], first_offset=2)))
        await asyncio.sleep(0.05)
        assert not third.done()  # waits for a slot
        store.gate.set()
        await asyncio.wait_for(third, 5)
        await asyncio.wait_for(pipe.drain(), 5)
    assert pipe.committed == 3
