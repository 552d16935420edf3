"""Which Faust worker owns which partition, followed from the compacted workers topic.

Each worker announces `{"url", "partitions", "at_ms"}` (keyed by its URL) every 2 s and after
each rebalance, and a tombstone on a clean stop (docs/stores.md). The views keep the latest
announcement per URL; an announcement older than WORKERS_ANNOUNCE_TTL_S is a worker that died
silently. No hand-kept list of workers: whoever Faust's assignor gave partitions shows up here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from squidstream.topics import WORKERS_ANNOUNCE_TTL_S, workers_topic

log = logging.getLogger(__name__)
RETRY_S = 2.0  # after a broker error, before the reader starts again
# The topic may not exist until the first worker starts; look for it this often.
TOPIC_POLL_S = 1.0


@dataclass(frozen=True)
class Announcement:
    """One worker's latest word: its web address and the partitions it owned then."""

    url: str
    partitions: frozenset[int]
    at_ms: int


def parse_announcement(key: bytes | None, value: bytes | None) -> Announcement | str | None:
    """The announcement in a record; the URL alone for a tombstone; None if unreadable."""
    if key is None:
        return None
    url = key.decode(errors="replace")
    if value is None:
        return url
    try:
        body = json.loads(value)
        partitions = frozenset(int(p) for p in body["partitions"])
        return Announcement(
            url=str(body["url"]).rstrip("/"), partitions=partitions, at_ms=int(body["at_ms"])
        )
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Contest:
    """A partition two fresh announcements claim (a rebalance in flight): the newest wins."""

    partition: int
    chosen: str
    over: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """Whom to ask: each partition's owner by the newest announcement claiming it."""

    owners: dict[str, frozenset[int]]
    announced_at_ms: dict[str, int]
    contested: tuple[Contest, ...] = ()
    unowned: tuple[int, ...] = ()


def plan(announcements: Iterable[Announcement], partitions: int) -> Plan:
    """Give each partition to the newest fresh announcement claiming it, once."""
    newest_first = sorted(announcements, key=lambda a: (-a.at_ms, a.url))
    owner: dict[int, str] = {}
    losers: dict[int, list[str]] = {}
    for announcement in newest_first:
        for partition in announcement.partitions:
            if partition in owner:
                losers.setdefault(partition, []).append(announcement.url)
            else:
                owner[partition] = announcement.url
    owners: dict[str, set[int]] = {}
    for partition, url in owner.items():
        owners.setdefault(url, set()).add(partition)
    return Plan(
        owners={url: frozenset(parts) for url, parts in sorted(owners.items())},
        announced_at_ms={a.url: a.at_ms for a in newest_first if a.url in owners},
        contested=tuple(Contest(p, owner[p], tuple(urls)) for p, urls in sorted(losers.items())),
        unowned=tuple(p for p in range(partitions) if p not in owner),
    )


@dataclass
class WorkerRegistry:
    """The latest announcement per worker URL, tombstones applied."""

    ttl_ms: int = int(WORKERS_ANNOUNCE_TTL_S * 1000)
    latest: dict[str, Announcement] = field(default_factory=dict)
    caught_up: bool = False

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        parsed = parse_announcement(key, value)
        if isinstance(parsed, str):
            self.latest.pop(parsed.rstrip("/"), None)
        elif parsed is not None:
            self.latest[parsed.url] = parsed

    def fresh(self, now_ms: int) -> list[Announcement]:
        """Announcements younger than the TTL; older ones are workers presumed dead."""
        return [a for a in self.latest.values() if now_ms - a.at_ms <= self.ttl_ms]


class RegistryFollower:
    """One aiokafka consumer, no group: reads the topic from the start, then follows it."""

    def __init__(self, settings: Settings, registry: WorkerRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.topic = workers_topic(settings)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._follow(stop)
            except KafkaError as exc:
                log.warning("workers topic %s: %r; retrying", self.topic, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_S)

    async def _follow(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            **kafka_auth(self.settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        try:
            # Inside the try: a start that fails (broker down) must still close the client.
            await consumer.start()
            if not await self._wait_for_topic(consumer, stop):
                return  # stopped before the topic appeared
            # No group: the consumer takes every partition and starts at the earliest offset.
            consumer.subscribe([self.topic])
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        self.registry.apply(record.key, record.value)
                # An empty poll: everything written before it has been read.
                self.registry.caught_up = self.registry.caught_up or not batch
        finally:
            await consumer.stop()

    async def _wait_for_topic(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> bool:
        """Whether the topic exists (the first worker creates it) before we are stopped.

        Asked by listing topics before subscribing: a subscription to a missing topic logs an
        error at every metadata refresh.
        """
        while not stop.is_set():
            if self.topic in await consumer.topics():
                self.registry.caught_up = False  # announcements to read from the start
                return True
            self.registry.caught_up = True  # no topic: nothing to read, nobody announced
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TOPIC_POLL_S)
        return False
