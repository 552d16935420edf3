"""Run one gateway process: the GameGateway service, gRPC health and reflection, one emitter
and the shared reservation store."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from typing import Final

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from gateways.authorization import WriteTokenInterceptor
from gateways.emitters import Emitter
from gateways.emitters.kafka import KafkaEmitter
from gateways.emitters.rabbitmq import RabbitMQEmitter
from gateways.errors import BrokerUnavailable, InvalidConfiguration
from gateways.gateway import Gateway
from gateways.metrics import open_endpoint
from gateways.reservations import Reservations
from gateways.reservations.redis import RedisReservations
from gateways.service import SERVICE_NAME, GameGatewayServicer
from gateways.tls import server_credentials
from gateways.transport import server_options
from squidstream import contract
from squidstream.auth import unprotected_bind_problem
from squidstream.contract import RouteName
from squidstream.settings import Settings

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S: Final = 1.0


def make_emitter(route: RouteName, settings: Settings) -> Emitter:
    """The emitter of a route."""
    if route == "kafka":
        return KafkaEmitter(settings)
    return RabbitMQEmitter(settings)


def gateway_port(route: RouteName, settings: Settings) -> int:
    """The configured port of a route's gateway."""
    return settings.gateway_kafka_port if route == "kafka" else settings.gateway_rabbitmq_port


def metrics_port(route: RouteName, settings: Settings) -> int:
    """The configured port of a route's gateway's `/metrics`."""
    if route == "kafka":
        return settings.gateway_kafka_metrics_port
    return settings.gateway_rabbitmq_metrics_port


def gateway_id_of(route: RouteName, settings: Settings) -> str:
    """`SQUID_GATEWAY_ID`, else one naming the route, host and process.

    InvalidConfiguration if the decoder would reject it: every event of this gateway would
    be dead-lettered after its client was told it was accepted.
    """
    gateway_id = settings.gateway_id or contract.default_gateway_id(
        route, socket.gethostname(), os.getpid()
    )
    problem = contract.gateway_id_problem(gateway_id)
    if problem is not None:
        raise InvalidConfiguration(f"{route} gateway cannot start: {problem.reason}")
    return gateway_id


def check_bind(route: RouteName, settings: Settings) -> None:
    """InvalidConfiguration if the gateway would listen beyond loopback without a write token."""
    problem = unprotected_bind_problem(
        f"the {route} gateway", settings.gateway_host, settings.write_token
    )
    if problem is not None:
        raise InvalidConfiguration(problem)


def _interceptors(settings: Settings) -> list[grpc.aio.ServerInterceptor]:
    if settings.write_token is None:
        return []
    return [WriteTokenInterceptor(settings.write_token, SERVICE_NAME)]


class GatewayServer:
    """A started gRPC server with its health reporting; stop() releases everything."""

    def __init__(
        self,
        route: RouteName,
        settings: Settings,
        port: int | None = None,
        emitter: Emitter | None = None,
        reservations: Reservations | None = None,
    ) -> None:
        self.route = route
        self.settings = settings
        check_bind(route, settings)
        gateway_id = gateway_id_of(route, settings)
        self.emitter = emitter or make_emitter(route, settings)
        self.reservations = reservations or RedisReservations(settings)
        self.gateway = Gateway(
            self.emitter,
            self.reservations,
            gateway_id=gateway_id,
            max_players=settings.max_players,
            # A pending publish settles within the broker timeout, or its owner gives up.
            pending_wait_s=settings.broker_timeout_s,
        )
        servicer = GameGatewayServicer(
            self.gateway,
            max_message_bytes=settings.gateway_max_message_bytes,
            max_batch=settings.gateway_max_batch,
            deadline_s=settings.gateway_call_deadline_s,
        )
        self.server = grpc.aio.server(
            interceptors=_interceptors(settings),
            options=server_options(settings),
            maximum_concurrent_rpcs=settings.gateway_max_concurrent_rpcs,
        )
        self.server.add_generic_rpc_handlers((servicer.handler(),))
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        address = (
            f"{settings.gateway_host}:{port if port is not None else gateway_port(route, settings)}"
        )
        credentials = server_credentials(settings)
        if credentials is None:
            self.port = self.server.add_insecure_port(address)
        else:
            self.port = self.server.add_secure_port(address, credentials)
        self._health_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve at once; a broker that is down now only makes health NOT_SERVING."""
        try:
            await self.emitter.start()
        except BrokerUnavailable as exc:
            log.warning("%s gateway starts without its broker: %s", self.route, exc)
        await self._set_health(await self._healthy())
        await self.server.start()
        self._health_task = asyncio.create_task(self._watch_health())
        log.info("%s gateway listening on port %d", self.route, self.port)

    async def _set_health(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)

    async def _watch_health(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            await self._set_health(await self._healthy())

    async def _healthy(self) -> bool:
        """Serving needs both the broker and the reservation store."""
        return await self.emitter.healthy() and await self.reservations.healthy()

    async def stop(self, grace_s: float = 2.0) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
        await self.server.stop(grace_s)
        await self.emitter.close()
        await self.reservations.close()


async def serve(
    route: RouteName, settings: Settings, port: int | None = None, metrics: int | None = None
) -> None:
    """Run a gateway, and its `/metrics` on its own port, until SIGINT or SIGTERM."""
    server = GatewayServer(route, settings, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    endpoint = open_endpoint(
        server.gateway.metrics.registry,
        settings.gateway_host,
        metrics if metrics is not None else metrics_port(route, settings),
    )
    if endpoint is not None:
        log.info("%s gateway metrics on port %d", route, endpoint.port)
    try:
        await server.start()
        await stop.wait()
    finally:
        await server.stop()
        if endpoint is not None:
            endpoint.close()
