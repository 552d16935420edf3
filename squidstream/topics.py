"""Kafka topic administration shared by the gateways and the workers.

Our broker runs with topic auto-creation off, so every topic is created here, explicitly,
with its partition count and infinite retention: `game-events` is the source of truth.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from squidstream.settings import Settings

TOPIC_ALREADY_EXISTS = 36
KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


class TopicError(RuntimeError):
    """A topic could not be created or did not become usable in time."""


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, partition count and creation config."""

    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


async def ensure_topics(
    settings: Settings,
    topics: Mapping[str, int],
    *,
    timeout_s: float = 30.0,
) -> None:
    """Create each missing topic (name -> partitions) to keep forever; wait for their leaders."""
    specs = [TopicSpec(name, partitions, KEEP_FOREVER) for name, partitions in topics.items()]
    await create_topics(settings, specs, timeout_s=timeout_s)


async def create_topics(
    settings: Settings, specs: Sequence[TopicSpec], *, timeout_s: float = 30.0
) -> dict[str, int]:
    """Create the missing topics; once every partition has a leader, the partition counts."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=int(timeout_s * 1000)
    )
    names = [spec.name for spec in specs]
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(spec.name, spec.partitions, 1, topic_configs=dict(spec.config))
            for spec in specs
            if spec.name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            _raise_for_errors(response.topic_errors)
        return await _wait_for_leaders(admin, names, timeout_s)
    except KafkaError as exc:
        raise TopicError(f"cannot create topics {sorted(names)}: {exc!r}") from exc
    finally:
        await admin.close()


def _raise_for_errors(topic_errors: list[tuple[str, int, str | None]]) -> None:
    for name, code, message in topic_errors:
        # Already there: another process created it since list_topics().
        if code not in (0, TOPIC_ALREADY_EXISTS):
            raise TopicError(f"cannot create topic {name!r}: error {code} {message or ''}".strip())


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float
) -> dict[str, int]:
    """A freshly created topic answers metadata before its partitions have leaders."""
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
            raise TopicError(f"topics without leaders after {timeout_s:.0f}s: {sorted(pending)}")
        await asyncio.sleep(0.1)
