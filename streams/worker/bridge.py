"""The RabbitMQ bridge: gateway queue -> game-events, acked only after Kafka acked the forward.

It is a Faust service of the worker: started and stopped with it (its producer is flushed
and closed after the last forward), and an error it cannot handle stops the worker, like
an agent's. Each connection to RabbitMQ is one session: connect, open a channel, declare
both queues, consume, forward batches. When the broker goes away (restart, network) the
session ends, its undelivered and unacked messages go back to the durable queue, and the
bridge connects again after a capped exponential backoff, logging every attempt. aio_pika's
robust connection would reconnect too, but at a fixed interval, and it keeps deliveries of
the dead channel in our inbox; a fresh session per connection has neither problem.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import aio_pika
import faust
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from squidstream.backoff import Backoff
from squidstream.settings import Settings
from streams.projection.deadletter import DEAD_LETTERS, new_producer
from streams.projection.decode import DeadLetter, Event, decode
from streams.worker.agents import crash_worker

log = logging.getLogger(__name__)
# Reconnects to RabbitMQ start after half a second and back off to 15 s (jittered).
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 15.0
# What a lost or refused connection raises (a closed channel raises a RuntimeError subclass).
CONNECTION_ERRORS = (
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
    OSError,
    TimeoutError,
)
# What a failed forward raises: Kafka or RabbitMQ trouble, retried; anything else is a bug
# and stops the worker rather than stall the route in a retry loop.
FORWARD_ERRORS = (KafkaError, *CONNECTION_ERRORS)
# None in the inbox: the session's channel or connection closed.
Inbox = asyncio.Queue[AbstractIncomingMessage | None]


class Bridge(faust.Service):
    """Drains the durable gateway queue in batches; one Kafka round trip per batch."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        super().__init__()
        self.app = app
        self.settings = settings
        self.forwarded = 0
        self.dead_letters = 0
        self.producer: AIOKafkaProducer | None = None

    async def on_start(self) -> None:
        # Made here, not in __init__: aiokafka binds a producer to the running event loop.
        self.producer = new_producer(self.settings)
        await self.producer.start()

    async def on_stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    @faust.Service.task
    async def _drain(self) -> None:
        """Forward until the worker stops; a fatal error stops the worker."""
        try:
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await crash_worker(self.app, "rabbitmq bridge", exc)

    async def run(self) -> None:
        """Run until cancelled; reconnect with capped backoff whenever RabbitMQ goes away."""
        producer = self.producer
        if producer is None:
            raise RuntimeError("the bridge runs only once started")
        backoff = Backoff(FIRST_BACKOFF_S, MAX_BACKOFF_S)
        while True:
            try:
                await self._session(producer, backoff)
                reason = "connection closed"
            except CONNECTION_ERRORS as exc:
                reason = f"{type(exc).__name__}: {exc}"
            delay = backoff.next_delay()
            log.warning(
                "RabbitMQ session ended (%s); reconnecting to RabbitMQ in %.1fs (attempt %d)",
                reason,
                delay,
                backoff.attempt,
            )
            await asyncio.sleep(delay)

    async def _session(self, producer: AIOKafkaProducer, backoff: Backoff) -> None:
        """One connection: declare the queues, then forward batches until it closes."""
        connection = await aio_pika.connect(
            self.settings.rabbitmq_url, timeout=self.settings.broker_timeout_s
        )
        try:
            inbox: Inbox = asyncio.Queue()
            channel = await self._open_consumer(connection, inbox)
            if backoff.attempt:
                log.warning("reconnected to RabbitMQ after %d attempts", backoff.attempt)
            backoff.reset()
            while (batch := await self._next_batch(inbox)) is not None:
                await self._forward_until_done(channel, producer, batch)
        finally:
            await connection.close()

    async def _open_consumer(self, connection: AbstractConnection, inbox: Inbox) -> AbstractChannel:
        """A channel consuming the gateway queue into `inbox`; both queues (re)declared."""

        def closed(*_: object) -> None:
            inbox.put_nowait(None)

        connection.close_callbacks.add(closed)
        channel = await connection.channel()
        channel.close_callbacks.add(closed)
        await channel.set_qos(prefetch_count=self.settings.batch_size)
        # durable=True and no arguments, exactly as the gateway declares them.
        queue = await channel.declare_queue(self.settings.rabbitmq_queue, durable=True)
        await channel.declare_queue(self.settings.rabbitmq_dead_letter_queue, durable=True)
        await queue.consume(inbox.put)
        return channel

    async def _next_batch(self, inbox: Inbox) -> list[AbstractIncomingMessage] | None:
        """Wait for one message, then gather more until the batch is full or time is up.

        None when the session closed: its unacked messages are back in the queue already.
        """
        first = await inbox.get()
        if first is None:
            return None
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self.settings.batch_timeout_s
        while len(batch) < self.settings.batch_size:
            if inbox.empty():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    message = await asyncio.wait_for(inbox.get(), remaining)
                except TimeoutError:
                    break
            else:
                message = inbox.get_nowait()
            if message is None:
                return None
            batch.append(message)
        return batch

    async def _forward_until_done(
        self,
        channel: AbstractChannel,
        producer: AIOKafkaProducer,
        batch: list[AbstractIncomingMessage],
    ) -> None:
        backoff = Backoff()
        while True:
            try:
                await self._forward(channel, producer, batch)
                return
            except FORWARD_ERRORS as exc:  # unacked messages stay queued; retry
                if channel.is_closed:  # RabbitMQ re-delivers the batch on the next session
                    log.warning("bridge forward failed on a closed channel (%s)", exc)
                    return
                delay = backoff.next_delay()
                log.warning("bridge forward failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)

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
    """Ack the last message with multiple=True: the whole batch came on the same channel."""
    try:
        await batch[-1].ack(multiple=True)
    except Exception as exc:  # any ack failure means the same thing
        # The channel closed: RabbitMQ re-delivers these and the projections dedupe.
        log.warning("ack failed (%s); messages will be re-delivered", exc)
