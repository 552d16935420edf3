"""Pages from the tracking documents' lists and chunks equal a sort of every event.

The lists and chunks are built by the sink's own functions from random events whose times
tie and run against their offsets, in random batches; the expected page is a plain sort of
all the events. With chunks the lists always answer, exactly that, and a walk that stops
short to bound its chunk reads still shows every entry once. Lists from before chunks
(truncated, no directory) must answer exactly whenever they answer, and must answer when
the whole page lies at or above their horizon.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.projection.decode import Event
from streams.sinks.recent_list import ChunkRef as SinkChunk
from streams.sinks.recent_list import (
    Row,
    chunk_of,
    encode_chunks,
    encode_recent,
    encode_rows,
    fresh_rows,
    newest,
    newest_rows,
    recent_entry,
    sealed,
)
from tests.streams.sinks.scattered import BASE_MS, newest_first, scattered
from views.stores.mongo_reports import LogFilter
from views.stores.recent_entries import (
    ChunkRef,
    Found,
    Key,
    Listed,
    ParsedLists,
    RecentLog,
    parse_rows,
)

AT = datetime(2026, 1, 1, 1, tzinfo=UTC)
Doc = dict[str, Any]


def tracking(events: Sequence[Event], partitions: int, keep: int) -> list[Doc]:
    """The partitions' tracking documents as the sink leaves them after these events."""
    docs = []
    for partition in range(partitions):
        mine = [recent_entry(e, AT) for e in events if e.partition == partition]
        docs.append({"events": len(mine), "recent": encode_recent(newest(mine, keep))})
    return docs


def key(event: Event) -> Key:
    return event.occurred_at_ms, event.event_id


class Sealed:
    """Tracking documents with chunks, as the sink leaves them after these batches, and the
    chunk documents' rows by `_id`; `read` counts the chunks read."""

    def __init__(self, events: Sequence[Event], partitions: int, keep: int, cuts: list[int]):
        self.chunks: dict[str, str] = {}
        self.reads = 0
        bounds = [0, *sorted({c for c in cuts if 0 < c < len(events)}), len(events)]
        kept: dict[int, list[Row]] = {p: [] for p in range(partitions)}
        refs: dict[int, list[SinkChunk]] = {p: [] for p in range(partitions)}
        for n, (a, b) in enumerate(itertools.pairwise(bounds)):
            for partition in range(partitions):
                mine = [e for e in events[a:b] if e.partition == partition]
                fresh = fresh_rows(mine, AT, len(mine))
                rows, oldest = sealed(newest_rows([*kept[partition], *fresh], 10**6), keep)
                kept[partition] = rows
                if oldest:
                    chunk_id = f"{partition}:{n}"
                    self.chunks[chunk_id] = encode_rows(oldest)
                    refs[partition].append(chunk_of(chunk_id, oldest))
        self.docs = [
            {
                "events": sum(e.partition == p for e in events),
                "recent": encode_rows(kept[p]),
                "chunks": encode_chunks(refs[p]),
            }
            for p in range(partitions)
        ]

    async def read(self, chunks: Sequence[ChunkRef]) -> list[Listed]:
        self.reads += len(chunks)
        found = [parse_rows(self.chunks[chunk.chunk_id]) for chunk in chunks]
        assert all(one is not None for one in found)
        return [one for one in found if one is not None]


async def no_chunks(chunks: Sequence[ChunkRef]) -> list[Listed]:
    raise AssertionError(f"read {chunks} where no list has chunks")


def page_of(
    recent: RecentLog,
    where: LogFilter,
    before: Key | None,
    limit: int,
    sealed_log: Sealed | None = None,
    reads: int = 10**6,
) -> Found | None:
    read = no_chunks if sealed_log is None else sealed_log.read
    return asyncio.run(recent.page(where.admits, before, where.span, limit, read, reads))


def expected(
    events: Sequence[Event], where: LogFilter, before: Key | None, limit: int
) -> list[Event]:
    below = [e for e in newest_first(events) if before is None or key(e) < before]
    return [e for e in below if where.admits(recent_entry(e, AT))][:limit]


def horizon(events: Sequence[Event], partitions: int, keep: int) -> Key | None:
    """The greatest lowest key among the partitions whose list is full and misses some."""
    lowest = []
    for partition in range(partitions):
        mine = newest_first([e for e in events if e.partition == partition])
        if len(mine) > keep:
            lowest.append(key(mine[keep - 1]))
    return max(lowest, default=None)


# Spans around the window `scattered` puts its events in.
spans = st.one_of(st.none(), st.integers(BASE_MS - 1, BASE_MS + 41))
filters = st.builds(
    LogFilter,
    game_id=st.one_of(st.none(), st.integers(1, 5)),
    route=st.sampled_from([None, "kafka", "rabbitmq"]),
    from_ms=spans,
    to_ms=spans,
)


# A log and one page of it: events, partitions, a filter, a cursor at one event, a size.
pages = {
    "count": st.integers(0, 60),
    "partitions": st.integers(1, 4),
    "seed": st.integers(0, 2**32),
    "where": filters,
    "cursor_at": st.one_of(st.none(), st.integers(0, 59)),
    "limit": st.integers(1, 12),
}


@given(**pages, keep=st.integers(1, 12))
def test_a_page_from_the_lists_is_the_sorted_events_page_or_none(
    count: int,
    partitions: int,
    keep: int,
    seed: int,
    where: LogFilter,
    cursor_at: int | None,
    limit: int,
) -> None:
    events = scattered(count, partitions, seed)
    before = None if cursor_at is None or cursor_at >= count else key(events[cursor_at])
    recent = RecentLog.of(tracking(events, partitions, keep))
    assert recent is not None

    found = page_of(recent, where, before, limit)

    want = expected(events, where, before, limit)
    if found is not None:
        assert found.resume is None
        assert [entry["event_id"] for entry in found.entries] == [e.event_id for e in want]
    edge = horizon(events, partitions, keep)
    if edge is None or (len(want) == limit and key(want[-1]) >= edge):
        assert found is not None


@given(**pages, keep=st.integers(1, 8), cuts=st.lists(st.integers(1, 59), max_size=8))
def test_lists_with_chunks_answer_every_page_exactly(
    count: int,
    partitions: int,
    keep: int,
    seed: int,
    cuts: list[int],
    where: LogFilter,
    cursor_at: int | None,
    limit: int,
) -> None:
    events = scattered(count, partitions, seed)
    before = None if cursor_at is None or cursor_at >= count else key(events[cursor_at])
    log = Sealed(events, partitions, keep, cuts)
    recent = RecentLog.of(log.docs)
    assert recent is not None

    found = page_of(recent, where, before, limit, log)

    assert found is not None
    assert found.resume is None
    want = expected(events, where, before, limit)
    assert [entry["event_id"] for entry in found.entries] == [e.event_id for e in want]


@given(
    count=st.integers(0, 60),
    partitions=st.integers(1, 3),
    keep=st.integers(1, 6),
    seed=st.integers(0, 2**32),
    cuts=st.lists(st.integers(1, 59), max_size=8),
    where=filters,
    limit=st.integers(1, 6),
    reads=st.integers(0, 3),
)
def test_a_walk_that_stops_short_to_bound_its_reads_shows_every_entry_once(
    count: int,
    partitions: int,
    keep: int,
    seed: int,
    cuts: list[int],
    where: LogFilter,
    limit: int,
    reads: int,
) -> None:
    events = scattered(count, partitions, seed)
    log = Sealed(events, partitions, keep, cuts)
    recent = RecentLog.of(log.docs)
    assert recent is not None
    shown: list[str] = []
    before: Key | None = None
    for _ in range(4 * count + 2):
        log.reads = 0
        found = page_of(recent, where, before, limit + 1, log, reads)
        assert found is not None
        # A short page read its budget (at least one group), plus the chunks reaching over
        # its start, which it must read to move on at all.
        # (A span's end starts the page there, if it is below the cursor.)
        _, ceiling = where.span
        start = ceiling if ceiling is not None and (before is None or ceiling < before) else before
        over = sum(start is not None and c.low < start <= c.high for c in recent.chunks)
        assert found.resume is None or log.reads <= max(reads, 1) + 3 + over
        if found.resume is None:
            shown.extend(entry["event_id"] for entry in found.entries[:limit])
            if len(found.entries) <= limit:
                break
            last = found.entries[limit - 1]
            before = (int(last["occurred_at_ms"]), str(last["event_id"]))
        else:
            assert before is None or found.resume < before  # every page moves on
            shown.extend(entry["event_id"] for entry in found.entries)
            before = found.resume
    else:
        raise AssertionError("the walk did not end")
    assert shown == [e.event_id for e in expected(events, where, None, count)]


def test_a_first_page_reads_no_chunk() -> None:
    events = scattered(60, partitions=2, seed=6)
    log = Sealed(events, partitions=2, keep=5, cuts=[10, 20, 30, 40, 50])
    recent = RecentLog.of(log.docs)
    assert recent is not None
    assert recent.chunks  # the lists did seal chunks

    found = page_of(recent, LogFilter(), None, 5, log)

    assert found is not None
    assert [entry["event_id"] for entry in found.entries] == [
        e.event_id for e in newest_first(events)[:5]
    ]
    assert log.reads == 0


def test_the_lists_abstain_rather_than_skip_what_a_full_list_left_out() -> None:
    # Every entry of partition 0 is newer than partition 1's; each list keeps its newest 3.
    events = [
        dataclasses.replace(e, occurred_at_ms=BASE_MS + i + (100 if e.partition == 0 else 0))
        for i, e in enumerate(scattered(14, partitions=2, seed=3))
    ]
    first = newest_first([e for e in events if e.partition == 0])
    assert len(first) > 3
    recent = RecentLog.of(tracking(events, 2, keep=3))
    assert recent is not None
    everything = LogFilter()

    page = page_of(recent, everything, None, 3)
    assert page is not None
    assert [entry["event_id"] for entry in page.entries] == [e.event_id for e in first[:3]]
    # The 4th newest entry is partition 0's 4th, in no list: the next list's newest is not it.
    assert page_of(recent, everything, None, 4) is None
    assert page_of(recent, everything, key(first[1]), 2) is None
    # A span that starts above the horizon is whole in the lists, however short.
    start = LogFilter(from_ms=first[1].occurred_at_ms)
    spanned = page_of(recent, start, None, 10)
    assert spanned is not None
    assert len(spanned.entries) == 2


def test_a_document_without_a_usable_list_or_with_more_than_it_counted_abstains() -> None:
    entry = recent_entry(scattered(1, partitions=1, seed=4)[0], AT)
    listed = encode_recent([entry])

    assert RecentLog.of([]) is None
    assert RecentLog.of([{"events": 1}]) is None  # written before the sink kept lists
    assert RecentLog.of([{"events": 1, "recent": "not json"}]) is None
    assert RecentLog.of([{"events": 0, "recent": listed}]) is None
    assert RecentLog.of([{"events": 2, "recent": encode_recent([])}]) is None
    assert RecentLog.of([{"events": 1, "recent": listed}]) is not None


def test_a_list_is_parsed_again_only_when_its_token_changed() -> None:
    events = scattered(6, partitions=1, seed=5)
    (doc,) = tracking(events, partitions=1, keep=4)
    parsed = ParsedLists()
    first = {**doc, "_id": "t:0", "token": "a"}

    assert parsed(first) is parsed(dict(first))  # the same token: the same parse
    changed = {**tracking(events[:3], partitions=1, keep=4)[0], "_id": "t:0", "token": "b"}
    again = parsed(changed)
    assert again is not None
    assert len(again.rows) == 3
    untokened = {**doc, "_id": "t:0"}
    assert parsed(untokened) is not parsed(untokened)  # no token: never reused
