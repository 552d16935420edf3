"""The RabbitMQ route: persistent messages to a durable queue, confirmed by the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiormq
import aiormq.abc
from aio_pika.abc import AbstractChannel, AbstractConnection
from aio_pika.exceptions import AMQPError
from pamqp.commands import Basic

from gateways.errors import BrokerUnavailable
from gateways.events import Encoded
from squidstream.contract import RouteName
from squidstream.settings import Settings

CONTENT_TYPE = "application/x-protobuf"
PERSISTENT = 2  # AMQP delivery mode: written to disk before the confirm
_BROKER_ERRORS = (AMQPError, aiormq.exceptions.AMQPError, OSError, TimeoutError, ConnectionError)


class RabbitMQEmitter:
    """Publishes GameEvents to the durable queue `settings.rabbitmq_queue` (default exchange)."""

    route: RouteName = "rabbitmq"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._timeout_s = settings.broker_timeout_s
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if self._channel is not None and not self._channel.is_closed:
                return
            await self._drop()
            connection = await self._connect()
            try:
                channel = await self._open_channel(connection)
            except BaseException:
                await connection.close()
                raise
            self._connection, self._channel = connection, channel

    async def _connect(self) -> AbstractConnection:
        settings = self._settings
        try:
            # A plain (not robust) connection: a dead broker must fail fast, not reconnect forever.
            return await aio_pika.connect(settings.rabbitmq_url, timeout=self._timeout_s)
        except _BROKER_ERRORS as exc:
            where = f"{settings.rabbitmq_host}:{settings.rabbitmq_port}"
            raise BrokerUnavailable(f"rabbitmq at {where}: {exc!r}") from exc

    async def _open_channel(self, connection: AbstractConnection) -> AbstractChannel:
        try:
            async with asyncio.timeout(self._timeout_s):
                channel = await connection.channel(publisher_confirms=True)
                # durable=True and no arguments: the bridge declares the queue exactly so.
                await channel.declare_queue(self._settings.rabbitmq_queue, durable=True)
        except _BROKER_ERRORS as exc:
            raise BrokerUnavailable(f"rabbitmq channel or queue declare failed: {exc!r}") from exc
        return channel

    async def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and not connection.is_closed:
            await connection.close()

    async def emit_many(self, events: Sequence[Encoded]) -> None:
        await self.start()  # BrokerUnavailable here: nothing was sent
        channel = self._channel
        assert channel is not None  # start() either set it or raised
        try:
            async with asyncio.timeout(self._timeout_s):
                # aiormq directly: aio-pika's Message wrapper cost more than the broker round
                # trip. All publishes are in flight at once; each awaits its broker confirm.
                amqp = await channel.get_underlay_channel()
                confirms = await asyncio.gather(*(self._publish(amqp, event) for event in events))
        except _BROKER_ERRORS as exc:
            raise BrokerUnavailable(
                f"rabbitmq did not confirm {len(events)} events within {self._timeout_s}s: {exc!r}",
                maybe_sent=True,
            ) from exc
        refused = sum(1 for confirm in confirms if not isinstance(confirm, Basic.Ack))
        if refused:
            # The others of the batch were confirmed: they are on the queue.
            raise BrokerUnavailable(
                f"rabbitmq refused {refused} of {len(events)} events", maybe_sent=True
            )

    def _publish(self, amqp: aiormq.abc.AbstractChannel, event: Encoded) -> Any:
        properties = Basic.Properties(
            message_id=event.event_id, content_type=CONTENT_TYPE, delivery_mode=PERSISTENT
        )
        return amqp.basic_publish(
            event.raw,
            routing_key=self._settings.rabbitmq_queue,
            properties=properties,
        )

    async def healthy(self) -> bool:
        try:
            await self.start()
        except BrokerUnavailable:
            return False
        return self._channel is not None and not self._channel.is_closed

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
