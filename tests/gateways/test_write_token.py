"""SQUID_WRITE_TOKEN on the gateways and the ingress: without it nothing is played or emitted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import SecretStr

from gateways.emitters.memory import MemoryEmitter
from gateways.errors import InvalidConfiguration
from gateways.reservations.memory import MemoryReservations, MemoryStore
from gateways.server import GatewayServer
from loadtest.bench import measure_stream, measure_unary
from loadtest.processes import free_port
from squidstream.auth import grpc_metadata, http_headers
from squidstream.grpc_client import gateway_channel, gateway_channel_sync
from squidstream.proto import game_pb2, game_pb2_grpc
from squidstream.settings import Settings
from tests.gateways.ingress_client import ingress_client

TOKEN = SecretStr("write-token-for-tests-0123")
SQUIDSTREAM = Path(sys.executable).with_name("squidstream")


@dataclass
class Guarded:
    server: GatewayServer
    emitter: MemoryEmitter
    channel: grpc.aio.Channel


@pytest.fixture
async def guarded() -> AsyncIterator[Guarded]:
    emitter = MemoryEmitter("kafka")
    settings = Settings(write_token=TOKEN, max_players=100)
    server = GatewayServer(
        "kafka", settings, port=0, emitter=emitter, reservations=MemoryReservations()
    )
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield Guarded(server, emitter, channel)
    await server.stop(0)


def _request(request_id: str = "r-1") -> game_pb2.PlayRequest:
    return game_pb2.PlayRequest(request_id=request_id, game_id=3, players=10)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "metadata",
    [(), (("authorization", "Bearer wrong-token-0123456789"),), (("authorization", "Basic x"),)],
)
async def test_play_without_the_token_is_unauthenticated_and_emits_nothing(
    guarded: Guarded, metadata: tuple[tuple[str, str], ...]
) -> None:
    stub = game_pb2_grpc.GameGatewayStub(guarded.channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.Play(_request(), metadata=metadata)
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert guarded.emitter.raw == []


@pytest.mark.asyncio
async def test_a_stream_without_the_token_is_unauthenticated_and_emits_nothing(
    guarded: Guarded,
) -> None:
    stub = game_pb2_grpc.GameGatewayStub(guarded.channel)
    call = stub.PlayStream(iter([game_pb2.PlayBatch(requests=[_request("a"), _request("b")])]))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in call:
            pass
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert guarded.emitter.raw == []


@pytest.mark.asyncio
async def test_play_and_stream_with_the_token_are_accepted(guarded: Guarded) -> None:
    stub = game_pb2_grpc.GameGatewayStub(guarded.channel)
    reply = await stub.Play(_request("one"), metadata=grpc_metadata(TOKEN))
    assert reply.event.winner == 10
    batch = game_pb2.PlayBatch(requests=[_request("two")])
    replies = [r async for r in stub.PlayStream(iter([batch]), metadata=grpc_metadata(TOKEN))]
    assert [r.event.request_id for r in replies[0].results] == ["two"]
    assert [e.request_id for e in guarded.emitter.emitted] == ["one", "two"]


@pytest.mark.asyncio
async def test_health_stays_open_without_the_token(guarded: Guarded) -> None:
    health = health_pb2_grpc.HealthStub(guarded.channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_a_gateway_on_every_interface_without_a_token_refuses_to_be_built() -> None:
    settings = Settings(gateway_host="0.0.0.0")
    with pytest.raises(InvalidConfiguration, match="SQUID_WRITE_TOKEN"):
        GatewayServer("kafka", settings, port=0, emitter=MemoryEmitter("kafka"))


@dataclass
class Ingress:
    client: httpx.AsyncClient
    emitters: list[MemoryEmitter]


@pytest.fixture
async def ingress() -> AsyncIterator[Ingress]:
    """An ingress and both gateways, all asking for the same write token."""
    emitters = [MemoryEmitter("kafka"), MemoryEmitter("rabbitmq")]
    store = MemoryStore()
    guarded = Settings(write_token=TOKEN, max_players=100)
    servers = [
        GatewayServer(e.route, guarded, port=0, emitter=e, reservations=MemoryReservations(store))
        for e in emitters
    ]
    for server in servers:
        await server.start()
    settings = Settings(
        write_token=TOKEN,
        gateway_kafka_address=f"127.0.0.1:{servers[0].port}",
        gateway_rabbitmq_address=f"127.0.0.1:{servers[1].port}",
        broker_timeout_s=1.0,
    )
    try:
        async with ingress_client(settings, {"kafka": 50, "rabbitmq": 50}) as client:
            yield Ingress(client, emitters)
    finally:
        for server in servers:
            await server.stop(0)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope-nope-nope-nope"}, {"Authorization": "Token x"}],
)
async def test_ingress_without_the_token_is_401_and_emits_nothing(
    ingress: Ingress, headers: dict[str, str]
) -> None:
    response = await ingress.client.post(
        "/api/games", json={"game_id": 3, "players": 40}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["field"] == "Authorization"
    assert all(emitter.raw == [] for emitter in ingress.emitters)


@pytest.mark.asyncio
async def test_ingress_refuses_before_reading_a_malformed_body(ingress: Ingress) -> None:
    response = await ingress.client.post("/api/games", content=b"{not json")
    assert response.status_code == 401


@pytest.mark.asyncio
async def test_ingress_with_the_token_plays_through_guarded_gateways(ingress: Ingress) -> None:
    response = await ingress.client.post(
        "/api/games", json={"game_id": 3, "players": 40}, headers=http_headers(TOKEN)
    )
    assert response.status_code == 201, response.text
    emitted = [e.event_id for emitter in ingress.emitters for e in emitter.emitted]
    assert emitted == [response.json()["event_id"]]


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/api/routes"])
async def test_ingress_health_and_metrics_stay_open(ingress: Ingress, path: str) -> None:
    assert (await ingress.client.get(path)).status_code == 200


def _run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SQUID_WRITE_TOKEN",)}
    return subprocess.run(
        [str(SQUIDSTREAM), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,  # a process that did start would otherwise serve forever
        check=False,
    )


def test_ingress_on_every_interface_without_a_token_exits_non_zero_with_a_clear_message() -> None:
    done = _run_cli("ingress", "--port", str(free_port()), SQUID_INGRESS_HOST="0.0.0.0")
    assert done.returncode == 2
    assert "SQUID_WRITE_TOKEN" in done.stderr
    assert "0.0.0.0" in done.stderr


def test_a_gateway_on_every_interface_without_a_token_exits_non_zero() -> None:
    done = _run_cli("gateway", "kafka", "--port", str(free_port()), SQUID_GATEWAY_HOST="0.0.0.0")
    assert done.returncode == 2
    assert "SQUID_WRITE_TOKEN" in done.stderr


@pytest.mark.asyncio
async def test_the_benchmark_clients_pass_the_token_on_unary_calls_and_streams(
    guarded: Guarded,
) -> None:
    target = f"127.0.0.1:{guarded.server.port}"
    async with gateway_channel(Settings(write_token=TOKEN), target) as channel:
        unary = await measure_unary(channel, "kafka", 20, 4)
        stream = await measure_stream(channel, "kafka", 30, 10, 2)
    assert (unary.accepted, unary.failed) == (20, 0)
    assert (stream.accepted, stream.failed) == (30, 0)
    assert len(guarded.emitter.raw) == 50
    async with gateway_channel(Settings(), target) as channel:  # no token: all refused
        refused = await measure_unary(channel, "kafka", 5, 1)
    assert (refused.accepted, refused.failed) == (0, 5)
    assert len(guarded.emitter.raw) == 50


@pytest.mark.asyncio
async def test_the_locust_gateway_channel_passes_the_token(guarded: Guarded) -> None:
    """Locust's gevent users use a blocking channel: the same token on every call."""
    target = f"127.0.0.1:{guarded.server.port}"
    replies = await asyncio.to_thread(_play_blocking, target)  # the gateway serves meanwhile
    assert replies == ["ok", "UNAUTHENTICATED"]


def _play_blocking(target: str) -> list[str]:
    answers: list[str] = []
    for settings in (Settings(write_token=TOKEN), Settings()):
        channel = gateway_channel_sync(settings, target)
        stub = game_pb2_grpc.GameGatewayStub(channel)
        try:
            stub.Play(_request(f"sync-{len(answers)}"), timeout=10)
            answers.append("ok")
        except grpc.RpcError as exc:
            answers.append(exc.code().name)
        finally:
            channel.close()
    return answers
