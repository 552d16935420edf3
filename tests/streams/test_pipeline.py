"""The pipeline: ledger first, then the other stores; in order, exactly once, whatever fails.

The stores here are in-memory fakes of the projection port that keep tracking records the
way the real adapters do; the adapters themselves are tested on the real servers
(tests/streams/sinks/).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence

import pytest

from streams.bench.synthetic import synthetic_events
from streams.errors import PoisonError, SinkError, StoreBehind, WorkerStalled
from streams.projection.batch import Batch, Record, Span, make_batch, split
from streams.projection.decode import Event, encode
from streams.projection.pipeline import Pipeline, PipelineBroken
from streams.sinks import Projection


class FakeStore:
    """Counts canonical events per id, tracking the next offset per partition."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.applied: dict[int, int] = {}
        self.counts: Counter[str] = Counter()
        self.writes: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures = 0
        self.refuse: set[str] = set()

    def events_of(self, batch: Batch) -> list[Event]:
        return batch.canonical

    async def apply(self, batch: Batch) -> None:
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise SinkError(f"{self.name} is down")
        for partition, span in batch.spans.items():
            if self.applied.get(partition, 0) < span.first:
                raise StoreBehind(self.name, partition, self.applied.get(partition, 0), span.first)
        fresh = [e for e in self.events_of(batch) if e.offset >= self.applied.get(e.partition, 0)]
        if refused := [e for e in fresh if e.event_id in self.refuse]:
            raise PoisonError(f"{self.name} cannot hold {refused[0].event_id}")
        self.counts.update(e.event_id for e in fresh)
        for partition, span in batch.spans.items():
            self.applied[partition] = max(self.applied.get(partition, 0), span.next)
        self.writes.append(len(batch.events))

    async def positions(self) -> dict[int, int]:
        return dict(self.applied)

    async def reset(self) -> None:
        self.applied.clear()
        self.counts.clear()

    async def close(self) -> None:
        return None


class FakeLedger(FakeStore):
    """The ledger: remembers each event id's first offset and marks canonical copies."""

    def __init__(self) -> None:
        super().__init__("ledger")
        self.first: dict[str, tuple[int, int]] = {}

    def events_of(self, batch: Batch) -> list[Event]:
        return batch.events

    async def apply(self, batch: Batch) -> None:
        await super().apply(batch)
        for e in batch.events:
            self.first.setdefault(e.event_id, (e.partition, e.offset))
        batch.canonical = await self.canonical_of(batch.events)

    async def canonical_of(self, events: Sequence[Event]) -> list[Event]:
        return [e for e in events if self.first.get(e.event_id) == (e.partition, e.offset)]


def records(events: Sequence[Event], partition: int = 0, first: int = 0) -> list[Record]:
    return [Record(partition, first + i, 1000 + i, encode(e)) for i, e in enumerate(events)]


def batch_of(events: Sequence[Event], partition: int = 0, first: int = 0) -> Batch:
    return make_batch(records(events, partition, first))


class Harness:
    """A pipeline over a fake ledger and followers, recording commits and dead letters."""

    def __init__(self, *followers: FakeStore, **options: float) -> None:
        self.ledger = FakeLedger()
        self.followers = list(followers)
        self.committed: list[Batch] = []
        self.letters: list[tuple[str, str, str]] = []
        self.gaps: list[tuple[str, int, int, int]] = []
        self.log: list[Record] = []
        self.pipeline = Pipeline(
            self.ledger,
            self.followers,
            self.on_committed,
            quarantine=self.quarantine,
            catch_up=self.catch_up,
            **options,  # type: ignore[arg-type]
        )

    async def on_committed(self, batch: Batch) -> None:
        self.committed.append(batch)

    async def quarantine(self, store: str, event: Event, reason: str) -> None:
        self.letters.append((store, event.event_id, reason))

    async def catch_up(
        self, store: Projection, partition: int, start: int, end: int
    ) -> AsyncIterator[Batch]:
        self.gaps.append((store.name, partition, start, end))
        wanted = [r for r in self.log if r.partition == partition and start <= r.offset < end]
        batch = make_batch(wanted)
        batch.spans[partition] = Span(start, end)
        batch.canonical = await self.ledger.canonical_of(batch.events)
        yield batch

    async def submit(self, batch: Batch) -> None:
        self.pipeline.begin()
        await self.pipeline.submit(batch)


def test_make_batch_dead_letters_bad_records_and_keeps_one_copy_per_event_id() -> None:
    good = synthetic_events(2, seed=11)
    batch = make_batch(
        [
            Record(0, 5, 1005, encode(good[0])),
            Record(0, 6, 1006, b"\xff junk"),
            Record(2, 9, 1009, encode(good[1])),
            Record(2, 10, 1010, encode(good[1])),
        ]
    )
    assert [(e.event_id, e.offset) for e in batch.events] == [
        (good[0].event_id, 5),
        (good[1].event_id, 9),
    ]
    assert [letter.offset for letter in batch.letters] == [6]
    assert batch.spans == {0: Span(5, 7, 1006), 2: Span(9, 11, 1010)}
    assert batch.records == 4


def test_split_halves_cover_the_batch_with_adjoining_spans() -> None:
    batch = batch_of(synthetic_events(5, seed=21), first=10)
    halves = split(batch)
    assert halves is not None
    left, right = halves
    assert left.spans[0].first == 10
    assert left.spans[0].next == right.spans[0].first
    assert right.spans[0].next == 15
    assert [e.offset for e in left.events + right.events] == [10, 11, 12, 13, 14]


@pytest.mark.asyncio
async def test_batches_commit_in_fetch_order_only_after_every_store_holds_them() -> None:
    fast, slow = FakeStore("fast"), FakeStore("slow")
    slow.gate.clear()
    h = Harness(fast, slow)
    events = synthetic_events(6, seed=12)
    async with h.pipeline as pipe:
        await h.submit(batch_of(events[:3]))
        await h.submit(batch_of(events[3:], first=3))
        await asyncio.sleep(0.05)
        assert h.committed == []  # the fast store is done, the slow one holds both back
        assert fast.writes
        slow.gate.set()
        await asyncio.wait_for(pipe.drain(), 5)
    # Both were done when the slow store let go: they commit together, in fetch order.
    assert [b.spans[0] for b in h.committed] == [Span(0, 6, 1002)]
    assert [e.event_id for b in h.committed for e in b.canonical] == [e.event_id for e in events]
    assert slow.counts == Counter(e.event_id for e in events)


@pytest.mark.asyncio
async def test_batches_queued_behind_a_slow_write_are_merged_into_one_write() -> None:
    store = FakeStore("redis")
    h = Harness(store)
    h.ledger.gate.clear()
    events = synthetic_events(9, seed=13)
    async with h.pipeline as pipe:
        for i in (0, 3, 6):
            await h.submit(batch_of(events[i : i + 3], first=i))
            await asyncio.sleep(0.01)  # the first write starts and blocks; the rest queue up
        h.ledger.gate.set()
        await asyncio.wait_for(pipe.drain(), 5)
    assert h.ledger.writes == [3, 6]
    assert sum(len(b.canonical) for b in h.committed) == 9
    assert h.committed[-1].spans[0].next == 9


@pytest.mark.asyncio
async def test_a_failing_store_is_retried_and_nothing_commits_until_it_succeeds() -> None:
    flaky = FakeStore("mongo")
    flaky.failures = 2
    h = Harness(flaky)
    async with h.pipeline as pipe:
        await h.submit(batch_of(synthetic_events(4, seed=14)))
        await asyncio.wait_for(pipe.drain(), 5)
    assert flaky.failures == 0
    assert len(h.committed) == 1
    assert sum(flaky.counts.values()) == 4
    assert h.pipeline.followers[0].state.retries == 2


@pytest.mark.asyncio
async def test_a_batch_delivered_again_changes_nothing() -> None:
    store = FakeStore("redis")
    h = Harness(store)
    events = synthetic_events(5, seed=16)
    async with h.pipeline as pipe:
        await h.submit(batch_of(events))
        await h.submit(batch_of(events))  # re-delivered after a crash: same offsets
        await h.submit(batch_of(events[:2], first=5))  # copies at new offsets
        await asyncio.wait_for(pipe.drain(), 5)
    assert store.counts == Counter(e.event_id for e in events)
    # The same offsets are canonical again (tables skip them by their own offsets); the
    # copies at new offsets are not.
    assert sum(len(b.canonical) for b in h.committed) == 10


@pytest.mark.asyncio
async def test_a_value_a_store_refuses_is_dead_lettered_alone_and_the_rest_applied() -> None:
    follower = FakeStore("mongo")
    h = Harness(follower)
    events = synthetic_events(8, seed=17)
    h.ledger.refuse = {events[5].event_id}
    async with h.pipeline as pipe:
        await h.submit(batch_of(events))
        await asyncio.wait_for(pipe.drain(), 5)
    assert [(store, eid) for store, eid, _ in h.letters] == [("ledger", events[5].event_id)]
    assert "cannot hold" in h.letters[0][2]
    others = Counter(e.event_id for i, e in enumerate(events) if i != 5)
    assert h.ledger.counts == follower.counts == others
    assert h.ledger.applied == follower.applied == {0: 8}


@pytest.mark.asyncio
async def test_a_store_that_lost_writes_catches_up_from_the_log_first() -> None:
    redis = FakeStore("redis")
    h = Harness(redis)
    events = synthetic_events(6, seed=18)
    h.log = records(events)
    async with h.pipeline as pipe:
        await h.submit(make_batch(h.log[:3]))
        await asyncio.wait_for(pipe.drain(), 5)
        await redis.reset()  # Redis restarted from an old snapshot
        await h.submit(make_batch(h.log[3:]))
        await asyncio.wait_for(pipe.drain(), 5)
    assert h.gaps == [("redis", 0, 0, 3)]
    assert redis.counts == Counter(e.event_id for e in events)
    assert redis.applied == {0: 6}


@pytest.mark.asyncio
async def test_a_worker_that_commits_nothing_for_too_long_breaks_naming_the_store() -> None:
    stuck = FakeStore("mongo")
    stuck.failures = 10_000
    broken: list[BaseException] = []
    h = Harness(stuck, stall_timeout_s=0.4)
    h.pipeline._on_broken = broken.append
    async with h.pipeline as pipe:
        await h.submit(batch_of(synthetic_events(2, seed=19)))
        with pytest.raises(PipelineBroken):
            await asyncio.wait_for(pipe.drain(), 10)
    assert isinstance(broken[0].__cause__, WorkerStalled)
    assert "mongo" in str(broken[0].__cause__)


@pytest.mark.asyncio
async def test_a_failing_commit_step_breaks_the_pipeline_instead_of_acknowledging() -> None:
    h = Harness(FakeStore("redis"))

    async def failing(batch: Batch) -> None:
        raise RuntimeError("table changelog not written")

    h.pipeline._on_committed = failing
    async with h.pipeline as pipe:
        await h.submit(batch_of(synthetic_events(2, seed=20)))
        with pytest.raises(PipelineBroken, match="changelog"):
            await asyncio.wait_for(pipe.drain(), 5)


@pytest.mark.asyncio
async def test_at_most_max_inflight_batches_are_open_at_once() -> None:
    store = FakeStore("redis")
    store.gate.clear()
    h = Harness(store, max_inflight=2)
    events = synthetic_events(3, seed=15)
    async with h.pipeline as pipe:
        for i, event in enumerate(events[:2]):
            await h.submit(batch_of([event], first=i))
        h.pipeline.begin()
        third = asyncio.create_task(pipe.submit(batch_of(events[2:], first=2)))
        await asyncio.sleep(0.05)
        assert not third.done()  # waits for a slot
        store.gate.set()
        await asyncio.wait_for(third, 5)
        await asyncio.wait_for(pipe.drain(), 5)
    assert pipe.committed == 3


@pytest.mark.asyncio
async def test_a_store_lane_that_dies_breaks_the_pipeline_instead_of_stalling_it() -> None:
    class Dying(FakeStore):
        async def apply(self, batch: Batch) -> None:
            # Not an Exception, so no retry loop catches it and the lane task ends.
            raise asyncio.CancelledError

    h = Harness(Dying("broken"), max_inflight=1)
    async with asyncio.timeout(10), h.pipeline as pipe:
        await h.submit(batch_of(synthetic_events(1, seed=23)))
        with pytest.raises(PipelineBroken):
            # The first batch never commits: without the check this waits for a slot forever.
            await h.submit(batch_of(synthetic_events(1, seed=24), first=1))
        with pytest.raises(PipelineBroken):
            pipe.check()


@pytest.mark.asyncio
async def test_a_re_delivery_merged_with_the_batch_it_repeats_counts_once() -> None:
    store = FakeStore("redis")
    store.gate.clear()
    h = Harness(store)
    events = synthetic_events(7, seed=22)
    async with h.pipeline as pipe:
        await h.submit(batch_of(events[6:], partition=1))  # taken first, then blocks
        await asyncio.sleep(0.05)
        await h.submit(batch_of(events[:4]))
        await h.submit(batch_of(events[:4]))  # Faust re-delivered from the committed offset
        await h.submit(batch_of(events[4:6], first=4))
        await asyncio.sleep(0.05)  # all three queue behind the first and merge into one write
        store.gate.set()
        await asyncio.wait_for(pipe.drain(), 5)
    assert store.counts == Counter(e.event_id for e in events)
    assert set(store.counts.values()) == {1}
