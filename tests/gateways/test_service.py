"""The gRPC gateway on a real server, in-memory emitter: codes, fields, health, reflection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from gateways.emitters.memory import MemoryEmitter
from gateways.reservations.memory import MemoryReservations
from gateways.server import GatewayServer
from gateways.service import FIELD_METADATA_KEY, SERVICE_NAME
from squidstream.proto import game_pb2, game_pb2_grpc
from squidstream.settings import Settings

if TYPE_CHECKING:
    from squidstream.proto.game_pb2_grpc import GameGatewayAsyncStub as AsyncStub


@pytest.fixture
def emitter() -> MemoryEmitter:
    return MemoryEmitter("kafka")


@pytest.fixture
async def channel(emitter: MemoryEmitter) -> AsyncIterator[grpc.aio.Channel]:
    settings = Settings(gateway_max_batch=5, gateway_max_message_bytes=2048, max_players=100)
    server = GatewayServer(
        "kafka", settings, port=0, emitter=emitter, reservations=MemoryReservations()
    )
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel
    await server.stop(0)


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> AsyncStub:
    return game_pb2_grpc.GameGatewayStub(channel)


def _req(request_id: str = "r-1", game_id: int = 2, players: int = 10) -> game_pb2.PlayRequest:
    return game_pb2.PlayRequest(request_id=request_id, game_id=game_id, players=players)


async def _refusal(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    return refused.value


def _field(error: grpc.aio.AioRpcError) -> str:
    return str(dict(error.trailing_metadata() or ()).get(FIELD_METADATA_KEY, ""))


@pytest.mark.asyncio
async def test_play_answers_with_the_event_it_emitted(
    stub: AsyncStub, emitter: MemoryEmitter
) -> None:
    reply = await stub.Play(_req(game_id=2, players=10))
    assert (reply.event.winner, reply.event.route) == (5, game_pb2.ROUTE_KAFKA)
    assert emitter.emitted == [reply.event]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("play_request", "field"),
    [
        (_req(players=0), "players"),
        (_req(players=101), "players"),
        (_req(game_id=7), "game_id"),
        (game_pb2.PlayRequest(request_id="r", game_id=1), "players"),
        (_req(request_id=""), "request_id"),
        (_req(request_id="x" * 500), "request_id"),
    ],
)
async def test_invalid_play_is_refused_naming_the_field_and_emits_nothing(
    stub: AsyncStub,
    emitter: MemoryEmitter,
    play_request: game_pb2.PlayRequest,
    field: str,
) -> None:
    error = await _refusal(stub.Play(play_request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (error.details() or "")
    assert _field(error) == field
    assert emitter.batches == []


@pytest.mark.asyncio
async def test_a_message_above_the_limit_is_refused_by_the_transport_unread(
    stub: AsyncStub, emitter: MemoryEmitter
) -> None:
    # The fixture's limit is 2048 bytes: the transport refuses before any handler runs.
    error = await _refusal(stub.Play(_req(request_id="x" * 3000)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert emitter.batches == []


@pytest.mark.asyncio
async def test_reused_request_id_for_another_game_is_already_exists(
    stub: AsyncStub, emitter: MemoryEmitter
) -> None:
    await stub.Play(_req("same", 1, 10))
    error = await _refusal(stub.Play(_req("same", 3, 10)))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert len(emitter.emitted) == 1


@pytest.mark.asyncio
async def test_dead_broker_makes_play_unavailable(stub: AsyncStub, emitter: MemoryEmitter) -> None:
    emitter.down = True
    error = await _refusal(stub.Play(_req()))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.asyncio
async def test_stream_answers_each_request_of_a_batch_in_order(
    stub: AsyncStub, emitter: MemoryEmitter
) -> None:
    batch = game_pb2.PlayBatch(requests=[_req("a"), _req("b", players=0), _req("c", 3, 7)])
    replies = [reply async for reply in stub.PlayStream(iter([batch, batch]))]
    assert len(replies) == 2
    first = replies[0].results
    assert [result.request_id for result in first] == ["a", "b", "c"]
    assert first[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert first[1].error.field == "players"
    assert first[2].event.winner == 7
    assert replies[1] == replies[0]
    assert [event.request_id for event in emitter.emitted] == ["a", "c"]


@pytest.mark.asyncio
async def test_a_batch_above_the_maximum_is_refused_naming_requests(
    stub: AsyncStub, emitter: MemoryEmitter
) -> None:
    batch = game_pb2.PlayBatch(requests=[_req(str(n)) for n in range(6)])
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        [reply async for reply in stub.PlayStream(iter([batch]))]
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "requests" in (refused.value.details() or "")
    assert emitter.batches == []


@pytest.mark.asyncio
async def test_garbage_bytes_are_invalid_argument(channel: grpc.aio.Channel) -> None:
    raw: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]
    raw = channel.unary_unary("/squidstream.v1.GameGateway/Play")
    error = await _refusal(raw(b"\xff\xff\xff"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.asyncio
async def test_health_follows_the_broker_and_reflection_lists_the_service(
    emitter: MemoryEmitter,
) -> None:
    emitter.down = True
    server = GatewayServer(
        "kafka", Settings(), port=0, emitter=emitter, reservations=MemoryReservations()
    )
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            check = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
            assert (await health.Check(check)).status == health_pb2.HealthCheckResponse.NOT_SERVING
            emitter.down = False
            await server._set_health(await server._healthy())
            assert (await health.Check(check)).status == health_pb2.HealthCheckResponse.SERVING
            reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
            ask = reflection_pb2.ServerReflectionRequest(list_services="")
            answers = [answer async for answer in reflect.ServerReflectionInfo(iter([ask]))]
            names = {s.name for s in answers[0].list_services_response.service}
            assert SERVICE_NAME in names
    finally:
        await server.stop(0)
