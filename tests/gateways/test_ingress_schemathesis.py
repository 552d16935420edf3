"""Schemathesis drives the ingress's documented operations, schema-breaking input included, in
front of two real gateways over in-memory brokers: no operation answers a server error."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from gateways.emitters.memory import MemoryEmitter
from gateways.ingress import create_app
from gateways.reservations.memory import MemoryReservations, MemoryStore
from gateways.server import GatewayServer
from squidstream.contract import RouteName
from squidstream.settings import Settings
from tests.fuzzing import api_fuzzing
from tests.helpers import free_port

MAX_EXAMPLES = 100
PORTS: dict[RouteName, int] = {"kafka": free_port(), "rabbitmq": free_port()}
# Built at import so schemathesis can read its schema; its channels open in its lifespan.
APP = create_app(
    Settings(
        gateway_kafka_address=f"127.0.0.1:{PORTS['kafka']}",
        gateway_rabbitmq_address=f"127.0.0.1:{PORTS['rabbitmq']}",
        broker_timeout_s=2.0,
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@pytest.fixture(scope="module", autouse=True)
def gateways() -> Iterator[None]:
    """Both gateways on the ports the app was built with, served from a loop of their own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    store = MemoryStore()

    async def start(route: RouteName, port: int) -> GatewayServer:
        # Built on its loop: a grpc.aio server belongs to the loop it was made in.
        server = GatewayServer(
            route,
            Settings(max_players=1000),
            port=port,
            emitter=MemoryEmitter(route),
            reservations=MemoryReservations(store),
        )
        await server.start()
        return server

    servers = [
        asyncio.run_coroutine_threadsafe(start(route, port), loop).result(30)
        for route, port in PORTS.items()
    ]
    try:
        yield
    finally:
        for server in servers:
            asyncio.run_coroutine_threadsafe(server.stop(0), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@schema.parametrize()
@api_fuzzing(MAX_EXAMPLES)
def test_no_ingress_operation_answers_a_server_error(case: schemathesis.Case[Any]) -> None:
    # The schema checks only types: ranges (game 1..5, players, a blank request id) are the
    # gateway's to judge, so schema-valid input may get a 422 naming its field. Everything
    # else is checked: no server error, documented status codes and bodies, and input that
    # breaks the schema refused.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
