"""The projection agent: a thin loop that decodes a batch, projects it, then updates tables."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust.types import EventT, StreamT

from squidstream.settings import Settings
from streams.deadletter import DeadLetters, new_producer
from streams.decode import DeadLetter, Event, decode
from streams.fold import unique
from streams.project import Projector, open_projections_retrying
from streams.tables import Tables, update_tables

log = logging.getLogger(__name__)
Pairs = list[tuple[EventT[bytes], Event]]


@dataclass
class WorkerStats:
    """Counts this worker process has seen since it started (served on its web page)."""

    batches: int = 0
    projected: int = 0
    dead_letters: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def split(events: Sequence[EventT[bytes]]) -> tuple[Pairs, list[DeadLetter]]:
    """Decode each record; keep the Faust event beside the decoded one for table writes."""
    good: Pairs = []
    bad: list[DeadLetter] = []
    for raw in events:
        message = raw.message
        value = message.value if isinstance(message.value, bytes) else None
        decoded = decode(value, message.partition, message.offset)
        if isinstance(decoded, Event):
            good.append((raw, decoded))
        else:
            bad.append(decoded)
    return good, bad


async def project_batch(
    events: Sequence[EventT[bytes]], projector: Projector, dead_letters: DeadLetters, source: str
) -> Pairs:
    """Dead-letter what does not decode, project the rest; returns the projected pairs."""
    good, bad = split(events)
    if bad:
        await dead_letters.send(bad, source)
    await projector.apply(unique(event for _, event in good))
    return good


def register_agents(
    app: faust.App, topic: Any, settings: Settings, tables: Tables, stats: WorkerStats
) -> None:
    """Attach the projection agent to the app."""

    @app.agent(topic, name="squid-project", concurrency=1)
    async def project(events_stream: StreamT[bytes]) -> None:
        stream = cast("faust.Stream[bytes]", events_stream)
        projector = Projector(await open_projections_retrying(settings))
        producer = new_producer(settings)
        await producer.start()
        dead_letters = DeadLetters(producer, settings)
        try:
            batches = stream.take_events(settings.batch_size, within=settings.batch_timeout_s)
            # take_events acks (commits) a batch only after this loop body returned.
            async for events in batches:
                pairs = await project_batch(events, projector, dead_letters, settings.events_topic)
                # Private but stable: Faust's only way to say which event a table write is for.
                update_tables(tables, pairs, stream._set_current_event, stream.current_event)
                stats.batches += 1
                stats.projected += len(pairs)
                stats.dead_letters = dead_letters.count
        finally:
            await producer.stop()
            await projector.close()
