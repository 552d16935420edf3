"""The gateways' transport limits: message size, calls in flight, the server's deadline, pings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from gateways.emitters.memory import MemoryEmitter
from gateways.reservations.memory import MemoryReservations
from gateways.server import GatewayServer
from gateways.transport import server_options
from squidstream.contract import EVENT_MAX_BYTES, REQUEST_ID_MAX_CHARS
from squidstream.proto import game_pb2, game_pb2_grpc
from squidstream.settings import Settings
from tests.gateways.doubles import HeldEmitter


async def _serve(settings: Settings, emitter: MemoryEmitter) -> GatewayServer:
    server = GatewayServer(
        "kafka", settings, port=0, emitter=emitter, reservations=MemoryReservations()
    )
    await server.start()
    return server


def _request(request_id: str) -> game_pb2.PlayRequest:
    return game_pb2.PlayRequest(request_id=request_id, game_id=3, players=10)


def test_the_transport_limits_are_the_settings() -> None:
    settings = Settings(gateway_max_message_bytes=8192, gateway_min_ping_interval_s=7)
    options = dict(server_options(settings))
    assert options["grpc.max_receive_message_length"] == 8192
    assert options["grpc.max_send_message_length"] == settings.gateway_max_reply_bytes
    assert options["grpc.http2.min_recv_ping_interval_without_data_ms"] == 7000
    assert options["grpc.http2.max_ping_strikes"] > 0


def test_the_largest_possible_reply_fits_the_send_limit() -> None:
    settings = Settings(gateway_max_batch=50)
    request_id = "\U0010ffff" * REQUEST_ID_MAX_CHARS  # 4 bytes each in UTF-8
    event = game_pb2.GameEvent(
        event_id="e" * 36,
        request_id=request_id,
        game_name="x" * (EVENT_MAX_BYTES - 4 * REQUEST_ID_MAX_CHARS - 100),
        gateway_id="g" * 64,
        occurred_at_ms=2**62,
    )
    error = game_pb2.PlayError(code=3, message="m" * 400, field="request_id")
    result = game_pb2.PlayResult(request_id=request_id, event=event, error=error)
    reply = game_pb2.PlayBatchReply(results=[result] * settings.gateway_max_batch)
    assert reply.ByteSize() <= settings.gateway_max_reply_bytes


@pytest.mark.asyncio
async def test_a_call_beyond_the_concurrency_cap_is_resource_exhausted() -> None:
    emitter = HeldEmitter()
    server = await _serve(Settings(gateway_max_concurrent_rpcs=1), emitter)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = game_pb2_grpc.GameGatewayStub(channel)
            first = asyncio.ensure_future(stub.Play(_request("first")))
            await emitter.entered.wait()
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Play(_request("second"))
            assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            emitter.release.set()
            assert (await first).event.request_id == "first"
    finally:
        await server.stop(0)
    assert [event.request_id for event in emitter.emitted] == ["first"]


@pytest.mark.asyncio
async def test_a_play_that_outlasts_the_server_deadline_is_deadline_exceeded() -> None:
    emitter = HeldEmitter()  # never released: the broker never confirms
    server = await _serve(Settings(gateway_call_deadline_s=1.2, broker_timeout_s=0.05), emitter)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = game_pb2_grpc.GameGatewayStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Play(_request("slow"))  # no client deadline at all
    finally:
        await server.stop(0)
    assert refused.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert emitter.raw == []


@pytest.mark.asyncio
async def test_an_idle_stream_is_ended_at_the_server_deadline() -> None:
    server = await _serve(
        Settings(gateway_call_deadline_s=1.2, broker_timeout_s=0.05), MemoryEmitter("kafka")
    )
    never = asyncio.Event()

    async def silent() -> AsyncIterator[game_pb2.PlayBatch]:
        await never.wait()
        yield game_pb2.PlayBatch()

    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = game_pb2_grpc.GameGatewayStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                async for _ in stub.PlayStream(silent()):
                    pass
    finally:
        never.set()
        await server.stop(0)
    assert refused.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.asyncio
async def test_a_client_that_pings_too_often_is_disconnected() -> None:
    emitter = HeldEmitter()  # holds the call open while the client pings
    server = await _serve(Settings(gateway_min_ping_interval_s=5), emitter)
    chatty = [
        ("grpc.keepalive_time_ms", 20),
        ("grpc.keepalive_timeout_ms", 5000),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.keepalive_permit_without_calls", 1),
    ]
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}", options=chatty) as ch:
            stub = game_pb2_grpc.GameGatewayStub(ch)
            with pytest.raises(grpc.aio.AioRpcError) as dropped:
                await stub.Play(_request("held"), timeout=30)
    finally:
        emitter.release.set()
        await server.stop(0)
    assert dropped.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "too many pings" in (dropped.value.details() or "").lower()
