"""Dead letters: the original bytes plus the reason, on the Kafka dead-letter topic; counted."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from streams.projection.decode import DeadLetter

log = logging.getLogger(__name__)

DEAD_LETTERS = Counter(
    "squid_dead_letters", "Records that could not be projected, by source.", ["source"]
)


def new_producer(settings: Settings) -> AIOKafkaProducer:
    """An idempotent producer that waits for all in-sync replicas."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        **kafka_auth(settings),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1 << 20,
    )


def headers(reason: str, source: str) -> list[tuple[str, bytes]]:
    return [("error", reason.encode()), ("source", source.encode())]


class DeadLetters:
    """Sends dead letters to the dead-letter topic and counts them."""

    def __init__(self, producer: AIOKafkaProducer, settings: Settings) -> None:
        self._producer = producer
        self._topic = settings.dead_letter_topic
        self.count = 0

    async def send(self, letters: list[DeadLetter], source: str) -> None:
        """Publish and wait for the broker, so a dead letter is never lost silently."""
        futures = []
        for letter in letters:
            log.warning("dead letter from %s: %s", source, letter.reason)
            futures.append(
                await self._producer.send(
                    self._topic, letter.raw, headers=headers(letter.reason, source)
                )
            )
        for future in futures:
            await future
        self.count += len(letters)
        DEAD_LETTERS.labels(source=source).inc(len(letters))
