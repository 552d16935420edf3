"""Every Kafka topic a worker uses, created and checked before anything subscribes to one.

Faust declares its changelog topics itself, but without waiting for their partitions to get
leaders: a consumer that joins right after can see such a topic with 0 partitions, and the
first table write then fails with `PartitionsMismatch` (source 4, changelog 0). So the worker
creates the events and dead-letter topics and every table's changelog (with the
config Faust would give it) in one step, waits until all have leaders, and refuses to start
when an existing topic has the wrong partition count: the projection agent writes each key to the
changelog partition of its source partition, so those counts must be equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mode.utils.times import want_seconds

from squidstream.settings import Settings
from squidstream.topics import (
    KEEP_FOREVER,
    WORKERS_TOPIC_CONFIG,
    TopicError,
    TopicSpec,
    create_topics,
    workers_topic,
)
from streams.errors import StreamsError

TOPICS_TIMEOUT_S = 60.0


class TopicSetupError(StreamsError):
    """A topic the worker needs cannot be created, or exists with the wrong partition count."""


def worker_topics(settings: Settings, changelogs: Iterable[Any]) -> list[TopicSpec]:
    """The events, dead-letter and workers topics, then each table's changelog topic."""
    partitions = settings.events_partitions
    specs = [
        TopicSpec(settings.events_topic, partitions, KEEP_FOREVER),
        TopicSpec(settings.dead_letter_topic, 1, KEEP_FOREVER),
        TopicSpec(workers_topic(settings), 1, WORKERS_TOPIC_CONFIG),
    ]
    return specs + [changelog_spec(topic, partitions) for topic in changelogs]


def changelog_spec(topic: Any, default_partitions: int) -> TopicSpec:
    """A Faust changelog topic's spec, with the cleanup and retention Faust would declare."""
    policy = [
        name for name, on in (("compact", topic.compacting), ("delete", topic.deleting)) if on
    ]
    config = {"cleanup.policy": ",".join(policy)} if policy else {}
    if topic.retention:
        config["retention.ms"] = str(int(want_seconds(topic.retention) * 1000))
    config.update({str(k): str(v) for k, v in (topic.config or {}).items()})
    return TopicSpec(topic.get_topic_name(), topic.partitions or default_partitions, config)


async def ensure_worker_topics(
    settings: Settings, specs: Sequence[TopicSpec], timeout_s: float = TOPICS_TIMEOUT_S
) -> None:
    """Create the missing topics, wait for every partition's leader, check partition counts."""
    try:
        counts = await create_topics(settings, specs, timeout_s=timeout_s)
    except TopicError as exc:
        raise TopicSetupError(f"cannot create or describe the worker's topics: {exc}") from exc
    check_partitions(specs, counts)


def check_partitions(specs: Sequence[TopicSpec], counts: Mapping[str, int]) -> None:
    """Raise one error naming every topic whose partition count is not the one we need."""
    wrong = [
        f"{spec.name!r} has {counts.get(spec.name, 0)} partitions, needs {spec.partitions}"
        for spec in specs
        if counts.get(spec.name) != spec.partitions
    ]
    if wrong:
        raise TopicSetupError(
            "topics with the wrong partition count (SQUID_EVENTS_PARTITIONS must match the "
            "events topic; delete or recreate the others): " + "; ".join(wrong)
        )
