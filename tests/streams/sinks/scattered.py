"""Test-only: events spread over partitions whose log order is not their time order."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import defaultdict
from collections.abc import Sequence

from streams.bench.synthetic import synthetic_events
from streams.projection.batch import Batch, Span
from streams.projection.decode import Event

BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def scattered(count: int, partitions: int, seed: int, spread_ms: int = 40) -> list[Event]:
    """`count` events in log order: each on a random partition at the next offset there, each
    occurring at a random millisecond of a narrow window (so times tie and run backwards, as
    they do when the RabbitMQ route delivers late)."""
    rng = random.Random(seed)
    offsets: dict[int, int] = defaultdict(int)
    events = []
    for event in synthetic_events(count, seed=seed):
        partition = rng.randrange(partitions)
        route = rng.choice(["kafka", "rabbitmq"])
        at = BASE_MS + rng.randrange(spread_ms)
        events.append(
            dataclasses.replace(
                event,
                partition=partition,
                offset=offsets[partition],
                route=route,
                occurred_at_ms=at,
            )
        )
        offsets[partition] += 1
    return events


def batches(events: Sequence[Event], cuts: Sequence[int]) -> list[Batch]:
    """The events (in log order) cut into consecutive batches at the given positions."""
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(events)}), len(events)]
    return [of(events[a:b]) for a, b in itertools.pairwise(bounds)]


def of(events: Sequence[Event]) -> Batch:
    """One batch of canonical events, covering each partition's offsets it holds."""
    spans: dict[int, Span] = {}
    for event in events:
        span = spans.get(event.partition)
        first = event.offset if span is None else span.first
        spans[event.partition] = Span(first, event.offset + 1)
    return Batch(list(events), [], spans, len(events), list(events))


def newest_first(events: Sequence[Event]) -> list[Event]:
    """The log's page order: occurred_at_ms, then event id, both descending."""
    return sorted(events, key=lambda e: (e.occurred_at_ms, e.event_id), reverse=True)
