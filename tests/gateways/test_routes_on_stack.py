"""Both routes against the real Kafka, RabbitMQ and Redis: once, decodable, idempotent, or
UNAVAILABLE."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateways.server import GatewayServer
from loadtest.brokers import topic_records
from loadtest.processes import free_port
from squidstream.contract import RouteName, event_id_for
from squidstream.proto import game_pb2, game_pb2_grpc
from squidstream.settings import Settings
from tests.gateways.stack_harness import emitted_events as _emitted

if TYPE_CHECKING:
    from squidstream.proto.game_pb2_grpc import GameGatewayAsyncStub as AsyncStub

pytestmark = pytest.mark.stack
ROUTES: list[RouteName] = ["kafka", "rabbitmq"]


@asynccontextmanager
async def _serving(
    route: RouteName, settings: Settings
) -> AsyncIterator[tuple[AsyncStub, grpc.aio.Channel]]:
    """A gateway on a free port and a channel to it, both closed afterwards."""
    server = GatewayServer(route, settings, port=0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield game_pb2_grpc.GameGatewayStub(channel), channel
    finally:
        await channel.close()
        await server.stop(0)


def _req(request_id: str, game_id: int = 4, players: int = 57) -> game_pb2.PlayRequest:
    return game_pb2.PlayRequest(request_id=request_id, game_id=game_id, players=players)


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ROUTES)
async def test_an_event_arrives_once_decodable_with_the_requested_fields(
    route: RouteName, isolated: Settings
) -> None:
    async with _serving(route, isolated) as (stub, _):
        reply = await stub.Play(_req("once", game_id=4, players=57))
    (event,) = await _emitted(route, isolated)
    assert event == reply.event
    assert (event.game_id, event.players, event.event_id) == (4, 57, event_id_for("once"))
    assert event.winner % 2 == 0


@pytest.mark.asyncio
async def test_kafka_records_are_keyed_by_event_id(isolated: Settings) -> None:
    async with _serving("kafka", isolated) as (stub, _):
        reply = await stub.Play(_req("keyed"))
    (record,) = await topic_records(isolated, isolated.events_topic)
    assert record.key == reply.event.event_id.encode()


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ROUTES)
async def test_a_retried_request_id_gives_the_identical_event_published_once(
    route: RouteName, isolated: Settings
) -> None:
    async with _serving(route, isolated) as (stub, _):
        first = await stub.Play(_req("retry"))
        again = await stub.Play(_req("retry"))
        batch = game_pb2.PlayBatch(requests=[_req("retry"), _req("other")])
        streamed = [reply async for reply in stub.PlayStream(iter([batch]))]
    assert again.event == first.event
    assert streamed[0].results[0].event == first.event
    assert sorted(e.request_id for e in await _emitted(route, isolated)) == ["other", "retry"]


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ROUTES)
async def test_bad_requests_emit_nothing(route: RouteName, isolated: Settings) -> None:
    async with _serving(route, isolated) as (stub, _):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Play(_req("bad", game_id=0))
        batch = game_pb2.PlayBatch(requests=[_req("b1", players=0), _req("b2", game_id=6)])
        streamed = [reply async for reply in stub.PlayStream(iter([batch]))]
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [r.error.field for r in streamed[0].results] == ["players", "game_id"]
    assert await _emitted(route, isolated) == []


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ROUTES)
async def test_a_streamed_flood_arrives_whole(route: RouteName, isolated: Settings) -> None:
    async with _serving(route, isolated) as (stub, _):
        batches = [
            game_pb2.PlayBatch(requests=[_req(f"{n}-{i}", 1 + i % 5) for i in range(500)])
            for n in range(4)
        ]
        replies = [reply async for reply in stub.PlayStream(iter(batches))]
    accepted = {r.event.event_id for reply in replies for r in reply.results if r.HasField("event")}
    assert len(accepted) == 2000
    assert {event.event_id for event in await _emitted(route, isolated)} == accepted


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ROUTES)
async def test_a_stopped_broker_gets_unavailable_within_the_bound(
    route: RouteName, isolated: Settings
) -> None:
    # Nothing listens on a fresh port: the shared servers keep running.
    dead = isolated.model_copy(
        update={"kafka_port": free_port(), "rabbitmq_port": free_port(), "broker_timeout_s": 2.0}
    )
    async with _serving(route, dead) as (stub, channel):
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Play(_req("nobody-home"), timeout=30)
        elapsed = time.monotonic() - started
        health = health_pb2_grpc.HealthStub(channel)
        status = (await health.Check(health_pb2.HealthCheckRequest())).status
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert elapsed < dead.broker_timeout_s + 1.0
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING
