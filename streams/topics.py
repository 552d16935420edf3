"""Every Kafka topic a worker uses, created and checked before anything subscribes to one.

Faust declares its changelog topics itself, but without waiting for their partitions to get
leaders: a consumer that joins right after can see such a topic with 0 partitions, and the
first table write then fails with `PartitionsMismatch` (source 4, changelog 0). So the worker
creates the events, dead-letter and table-deltas topics and every table's changelog (with the
config Faust would give it) in one step, waits until all have leaders, and refuses to start
when an existing topic has the wrong partition count: the table agent writes each key to the
changelog partition of its source partition, so those counts must be equal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from mode.utils.times import want_seconds

from squidstream.settings import Settings
from squidstream.topics import KEEP_FOREVER, TOPIC_ALREADY_EXISTS
from streams.errors import StreamsError

TOPICS_TIMEOUT_S = 60.0


class TopicSetupError(StreamsError):
    """A topic the worker needs cannot be created, or exists with the wrong partition count."""


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, partition count and creation config."""

    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


def deltas_topic(settings: Settings) -> str:
    """The topic that carries per-batch table deltas from the consumer to the table agent."""
    return f"{settings.events_topic}-table-deltas"


def worker_topics(settings: Settings, changelogs: Iterable[Any]) -> list[TopicSpec]:
    """The events, deltas and dead-letter topics, then each table's changelog topic."""
    partitions = settings.events_partitions
    specs = [
        TopicSpec(settings.events_topic, partitions, KEEP_FOREVER),
        TopicSpec(deltas_topic(settings), partitions, KEEP_FOREVER),
        TopicSpec(settings.dead_letter_topic, 1, KEEP_FOREVER),
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
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            await _create(admin, missing)
        counts = await _wait_for_leaders(admin, [spec.name for spec in specs], timeout_s)
    except KafkaError as exc:
        raise TopicSetupError(f"cannot create or describe the worker's topics: {exc!r}") from exc
    finally:
        await admin.close()
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


async def _create(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> None:
    topics = [NewTopic(s.name, s.partitions, 1, topic_configs=dict(s.config)) for s in specs]
    response = await admin.create_topics(topics)
    for name, code, message in response.topic_errors:
        # Already there: another worker (or a gateway) created it since list_topics().
        if code not in (0, TOPIC_ALREADY_EXISTS):
            raise TopicSetupError(f"cannot create topic {name!r}: error {code} {message or ''}")


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float
) -> dict[str, int]:
    """Partition count per topic, once every partition of every topic has a leader."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        described = await admin.describe_topics(names)
        pending = [
            topic["topic"]
            for topic in described
            if topic["error_code"] != 0
            or not topic["partitions"]
            or any(partition["leader"] < 0 for partition in topic["partitions"])
        ]
        if not pending:
            return {topic["topic"]: len(topic["partitions"]) for topic in described}
        if asyncio.get_running_loop().time() > deadline:
            raise TopicSetupError(
                f"topics without leaders after {timeout_s:.0f}s: {sorted(pending)}"
            )
        await asyncio.sleep(0.1)
