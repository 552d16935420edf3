"""The RabbitMQ bridge: gateway queue -> game-events, acked only after Kafka acked the forward."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from aiokafka import AIOKafkaProducer

from squidstream.settings import Settings
from streams.deadletter import DEAD_LETTERS, new_producer
from streams.decode import DeadLetter, Event, decode

log = logging.getLogger(__name__)
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 15.0


class Bridge:
    """Drains the durable gateway queue in batches; one Kafka round trip per batch."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.forwarded = 0
        self.dead_letters = 0
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

    async def run(self) -> None:
        """Run until cancelled; reconnect with backoff whenever a broker goes away."""
        producer = new_producer(self.settings)
        await producer.start()
        try:
            connection = await self._connect()
            try:
                await self._consume(connection, producer)
            finally:
                await connection.close()
        finally:
            await producer.stop()

    async def _connect(self) -> AbstractRobustConnection:
        delay = FIRST_BACKOFF_S
        while True:
            try:
                # A robust connection re-opens itself and its consumers after a broker restart.
                return await aio_pika.connect_robust(self.settings.rabbitmq_url)
            except (aio_pika.exceptions.AMQPError, OSError) as exc:
                log.warning("RabbitMQ unreachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)

    async def _consume(
        self, connection: AbstractRobustConnection, producer: AIOKafkaProducer
    ) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.settings.batch_size)
        queue = await channel.declare_queue(self.settings.rabbitmq_queue, durable=True)
        await channel.declare_queue(self.settings.rabbitmq_dead_letter_queue, durable=True)
        await queue.consume(self._inbox.put)
        while True:
            batch = await self._next_batch()
            await self._forward_until_done(channel, producer, batch)

    async def _next_batch(self) -> list[AbstractIncomingMessage]:
        """Wait for one message, then gather more until the batch is full or time is up."""
        batch = [await self._inbox.get()]
        deadline = asyncio.get_running_loop().time() + self.settings.batch_timeout_s
        while len(batch) < self.settings.batch_size:
            if self._inbox.empty():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._inbox.get(), remaining))
                except TimeoutError:
                    break
            else:
                batch.append(self._inbox.get_nowait())
        return batch

    async def _forward_until_done(
        self,
        channel: AbstractChannel,
        producer: AIOKafkaProducer,
        batch: list[AbstractIncomingMessage],
    ) -> None:
        delay = FIRST_BACKOFF_S
        while True:
            try:
                await self._forward(channel, producer, batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # unacked messages stay queued; retry
                log.warning("bridge forward failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)

    async def _forward(
        self,
        channel: AbstractChannel,
        producer: AIOKafkaProducer,
        batch: list[AbstractIncomingMessage],
    ) -> None:
        decoded = [decode(message.body) for message in batch]
        events = [d for d in decoded if isinstance(d, Event)]
        letters = [d for d in decoded if isinstance(d, DeadLetter)]
        futures = [
            await producer.send(self.settings.events_topic, raw.body, key=e.event_id.encode())
            for raw, e in zip(batch, decoded, strict=True)
            if isinstance(e, Event)
        ]
        futures += await self._dead_letter(channel, producer, letters)
        for future in futures:
            await future
        # Kafka holds every forward now; one ack with multiple=True settles the whole batch.
        await ack_all(batch)
        self.forwarded += len(events)
        self.dead_letters += len(letters)

    async def _dead_letter(
        self,
        channel: AbstractChannel,
        producer: AIOKafkaProducer,
        letters: Sequence[DeadLetter],
    ) -> list[asyncio.Future[object]]:
        source = self.settings.rabbitmq_queue
        futures = []
        for letter in letters:
            log.warning("dead letter from queue %s: %s", source, letter.reason)
            headers: dict[str, aio_pika.abc.FieldValue] = {"error": letter.reason, "source": source}
            await channel.default_exchange.publish(
                aio_pika.Message(
                    letter.raw,
                    headers=headers,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    content_type="application/x-protobuf",
                ),
                routing_key=self.settings.rabbitmq_dead_letter_queue,
            )
            futures.append(
                await producer.send(
                    self.settings.dead_letter_topic,
                    letter.raw,
                    headers=[(k, str(v).encode()) for k, v in headers.items()],
                )
            )
            DEAD_LETTERS.labels(source=source).inc()
        return futures


async def ack_all(batch: Sequence[AbstractIncomingMessage]) -> None:
    """Ack the last message with multiple=True; after a reconnect, older tags are void anyway."""
    try:
        await batch[-1].ack(multiple=True)
    except Exception as exc:  # any ack failure means the same thing
        # The channel was re-opened: RabbitMQ re-delivers these and the projections dedupe.
        log.warning("ack after reconnect failed (%s); messages will be re-delivered", exc)
