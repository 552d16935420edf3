"""Kafka topic administration shared by the gateways and the workers.

Our broker runs with topic auto-creation off, so every topic is created here, explicitly,
with its partition count and infinite retention: `game-events` is the source of truth.
Every topic gets `settings.events_replication_factor` replicas and
`min.insync.replicas=settings.events_min_insync_replicas`; a factor above the number of
brokers the cluster reports, or a min ISR above the factor (every `acks=all` write would
fail), is refused with a TopicError before anything is created.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings

TOPIC_ALREADY_EXISTS = 36
MIN_INSYNC = "min.insync.replicas"
KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


class TopicError(RuntimeError):
    """A topic could not be created or did not become usable in time."""


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, partition count and creation config."""

    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


def replication_problem(settings: Settings, brokers: int) -> str | None:
    """Why these settings cannot create a topic on a cluster of `brokers`, or None."""
    factor, min_isr = settings.events_replication_factor, settings.events_min_insync_replicas
    if factor > brokers:
        return (
            f"replication factor {factor} (SQUID_EVENTS_REPLICATION_FACTOR) is above the"
            f" {brokers} broker(s) of the cluster at {settings.kafka_bootstrap}; lower it or"
            f" run more brokers (squidstream stack up --kafka-brokers {factor})"
        )
    if min_isr > factor:
        return (
            f"min.insync.replicas {min_isr} (SQUID_EVENTS_MIN_INSYNC_REPLICAS) is above the"
            f" replication factor {factor}: every acks=all write would fail"
        )
    return None


def new_topic(settings: Settings, spec: TopicSpec) -> NewTopic:
    """The creation request: the settings' replication and min ISR, unless the spec sets one."""
    config = {MIN_INSYNC: str(settings.events_min_insync_replicas), **spec.config}
    return NewTopic(
        spec.name, spec.partitions, settings.events_replication_factor, topic_configs=config
    )


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
        bootstrap_servers=settings.kafka_bootstrap,
        **kafka_auth(settings),
        request_timeout_ms=int(timeout_s * 1000),
    )
    names = [spec.name for spec in specs]
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [new_topic(settings, spec) for spec in specs if spec.name not in existing]
        if missing:
            await _check_replication(admin, settings)
            response = await admin.create_topics(missing)
            _raise_for_errors(response.topic_errors)
        return await _wait_for_leaders(admin, names, timeout_s)
    except KafkaError as exc:
        raise TopicError(f"cannot create topics {sorted(names)}: {exc!r}") from exc
    finally:
        await admin.close()


async def _check_replication(admin: AIOKafkaAdminClient, settings: Settings) -> None:
    # The brokers the cluster reports alive: a factor they cannot hold fails here, by name,
    # instead of as Kafka's bare INVALID_REPLICATION_FACTOR.
    cluster = await admin.describe_cluster()
    problem = replication_problem(settings, len(cluster["brokers"]))
    if problem is not None:
        raise TopicError(problem)


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


def workers_topic(settings: Settings) -> str:
    """Where each worker announces its web address and the partitions Faust assigned it.

    Compacted, keyed by the worker's URL: the views find the workers and who owns which
    partition here, from Faust's own assignment, instead of from a hand-kept list.
    """
    return f"{settings.faust_app_id}-workers"


WORKERS_TOPIC_CONFIG = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}
# Readers of the workers topic ignore an announcement older than this: a worker that died
# without its tombstone ages out. Workers announce every 2 s, so five missed announcements.
WORKERS_ANNOUNCE_TTL_S = 10.0
