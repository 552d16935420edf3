"""A fetched batch: decoded events, dead letters, and per partition the offsets it covers.

Stores track what they applied by offset, not by event id: each keeps the next offset to
apply per partition (its tracking record) and skips records below it. `Span` is what a
batch covers in one partition, the unit those records advance by. The same event id can sit
at two offsets (a bridge re-delivery, a takeover of an unconfirmed publish); every copy
carries the same key and so the same partition, and only the first copy in the log, the
canonical one, is counted (the SQL ledger decides which, see streams.sinks.sql).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from streams.projection.decode import DeadLetter, Event, decode


class Record(NamedTuple):
    """One record of the events topic, whoever fetched it."""

    partition: int
    offset: int
    timestamp_ms: int
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Span:
    """Offsets first..next-1 of one partition, all of them in this batch."""

    first: int
    next: int
    last_timestamp_ms: int = 0


@dataclass(slots=True)
class Batch:
    """Events in log order (first copy of each event id kept), dead letters, spans."""

    events: list[Event]
    letters: list[DeadLetter]
    spans: dict[int, Span]
    records: int
    # Set by the ledger: the events that are the first copy of their id in the log.
    canonical: list[Event] = field(default_factory=list)
    # What the feeder acknowledges once every store and table holds the batch.
    handles: Sequence[Any] = ()
    fetched_at: float = field(default_factory=time.monotonic)
    # Faust events the tables may write under (as the current event) without acknowledging
    # them: a batch of records read back from the log has no events of its own.
    anchors: Sequence[Any] = ()

    @property
    def partitions(self) -> list[int]:
        return sorted(self.spans)


def make_batch(
    records: Iterable[Record], handles: Sequence[Any] = (), anchors: Sequence[Any] = ()
) -> Batch:
    """Decode records (in log order per partition); undecodable ones become dead letters.

    A partition's span runs from its lowest offset to past its highest: a batch taken across
    a rebalance can hold records delivered again from an older offset after newer ones.
    """
    events: list[Event] = []
    letters: list[DeadLetter] = []
    spans: dict[int, Span] = {}
    seen: set[str] = set()
    count = 0
    for record in records:
        count += 1
        span = spans.get(record.partition)
        if span is None:
            spans[record.partition] = Span(record.offset, record.offset + 1, record.timestamp_ms)
        else:
            spans[record.partition] = Span(
                min(span.first, record.offset),
                max(span.next, record.offset + 1),
                max(span.last_timestamp_ms, record.timestamp_ms),
            )
        decoded = decode(record.value, record.partition, record.offset)
        if isinstance(decoded, DeadLetter):
            letters.append(decoded)
        elif decoded.event_id not in seen:
            seen.add(decoded.event_id)
            events.append(decoded)
    return Batch(events, letters, spans, count, handles=handles, anchors=anchors)


def split(batch: Batch) -> tuple[Batch, Batch] | None:
    """Two batches that together cover `batch`, each with spans of its own; None if one event.

    Used to narrow a poison event down: a single partition splits at an offset in the
    middle of its events, several partitions split between partitions.
    """
    if len(batch.events) <= 1:
        return None
    partitions = sorted({event.partition for event in batch.events})
    if len(partitions) > 1:
        left_parts = set(partitions[: len(partitions) // 2])
        return (
            _subset(
                batch, lambda p, o: p in left_parts, {p for p in batch.spans if p in left_parts}
            ),
            _subset(batch, lambda p, o: p not in left_parts, set(batch.spans) - left_parts),
        )
    (partition,) = partitions
    events = batch.events
    cut = events[len(events) // 2].offset
    span = batch.spans[partition]
    left = _subset(batch, lambda p, o: o < cut, set(), {partition: Span(span.first, cut)})
    right = _subset(
        batch,
        lambda p, o: o >= cut,
        set(batch.spans) - {partition},
        {partition: Span(cut, span.next, span.last_timestamp_ms)},
    )
    return left, right


def _subset(
    batch: Batch,
    keep: Callable[[int, int], bool],
    whole_spans: set[int],
    extra_spans: dict[int, Span] | None = None,
) -> Batch:
    spans = {p: batch.spans[p] for p in whole_spans} | (extra_spans or {})
    events = [e for e in batch.events if keep(e.partition, e.offset)]
    canonical = [e for e in batch.canonical if keep(e.partition, e.offset)]
    return Batch(events, [], spans, 0, canonical)
