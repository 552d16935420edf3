"""The Kafka route: one idempotent producer (acks=all) per process, keyed by event id."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from gateways.errors import BrokerUnavailable
from gateways.events import Encoded
from squidstream.contract import RouteName
from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from squidstream.topics import TopicError, ensure_topics


class KafkaEmitter:
    """Publishes GameEvents to `settings.events_topic`; key = event id, value = protobuf bytes."""

    route: RouteName = "kafka"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._timeout_s = settings.broker_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if self._producer is None:
                self._producer = await self._connect()

    async def _connect(self) -> AIOKafkaProducer:
        settings = self._settings
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            **kafka_auth(settings),
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=int(self._timeout_s * 1000),
            # Floods arrive as batches: let the accumulator fill bigger record batches.
            linger_ms=2,
            max_batch_size=512 * 1024,
        )
        try:
            async with asyncio.timeout(self._timeout_s):
                await ensure_topics(
                    settings,
                    {settings.events_topic: settings.events_partitions},
                    timeout_s=self._timeout_s,
                )
                await producer.start()
        except (KafkaError, TopicError, OSError, TimeoutError) as exc:
            await producer.stop()
            raise BrokerUnavailable(f"kafka at {settings.kafka_bootstrap}: {exc!r}") from exc
        return producer

    async def emit_many(self, events: Sequence[Encoded]) -> None:
        await self.start()  # BrokerUnavailable here: nothing was sent
        producer = self._producer
        assert producer is not None  # start() either set it or raised
        topic = self._settings.events_topic
        try:
            async with asyncio.timeout(self._timeout_s):
                # Queue every record first, then wait for all acks: one round trip per batch.
                futures = [
                    await producer.send(topic, event.raw, key=event.event_id.encode())
                    for event in events
                ]
                await asyncio.gather(*futures)
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(
                f"kafka did not acknowledge {len(events)} events "
                f"within {self._timeout_s}s: {exc!r}",
                # The producer may still deliver what it queued: the outcome is unknown.
                maybe_sent=True,
            ) from exc

    async def healthy(self) -> bool:
        try:
            await self.start()
            assert self._producer is not None
            async with asyncio.timeout(self._timeout_s):
                await self._producer.client.fetch_all_metadata()
        except (BrokerUnavailable, KafkaError, OSError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        async with self._lock:
            if self._producer is not None:
                producer, self._producer = self._producer, None
                await producer.stop()
