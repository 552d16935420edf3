"""Pages from the tracking documents' `recent` lists equal a sort of every event, or abstain.

The lists are built by the sink's own functions from random events whose times tie and run
against their offsets; the expected page is a plain sort of all the events. Whenever the
lists answer, they must answer exactly that; when the whole page lies at or above the
horizon they must answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.projection.decode import Event
from streams.sinks.recent_list import encode_recent, newest, recent_entry
from tests.streams.sinks.scattered import BASE_MS, newest_first, scattered
from views.stores.mongo_reports import LogFilter
from views.stores.recent_entries import Key, ParsedLists, RecentLog

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


@given(
    count=st.integers(0, 60),
    partitions=st.integers(1, 4),
    keep=st.integers(1, 12),
    seed=st.integers(0, 2**32),
    where=filters,
    cursor_at=st.one_of(st.none(), st.integers(0, 59)),
    limit=st.integers(1, 12),
)
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

    page = recent.page(where.admits, before, where.floor, limit)

    want = expected(events, where, before, limit)
    if page is not None:
        assert [entry["event_id"] for entry in page] == [e.event_id for e in want]
    edge = horizon(events, partitions, keep)
    if edge is None or (len(want) == limit and key(want[-1]) >= edge):
        assert page is not None


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

    page = recent.page(everything.admits, None, None, 3)
    assert [entry["event_id"] for entry in page or []] == [e.event_id for e in first[:3]]
    # The 4th newest entry is partition 0's 4th, in no list: the next list's newest is not it.
    assert recent.page(everything.admits, None, None, 4) is None
    assert recent.page(everything.admits, key(first[1]), None, 2) is None
    # A span that starts above the horizon is whole in the lists, however short.
    start = LogFilter(from_ms=first[1].occurred_at_ms)
    assert len(recent.page(start.admits, None, start.floor, 10) or []) == 2


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
