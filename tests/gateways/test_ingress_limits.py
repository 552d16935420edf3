"""The ingress's HTTP limits: bodies above the cap get 413, requests above the in-flight cap 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from gateways.reservations.memory import MemoryReservations, MemoryStore
from gateways.server import GatewayServer
from squidstream.settings import Settings
from tests.gateways.doubles import HeldEmitter
from tests.gateways.ingress_client import ingress_client

GAME = {"game_id": 3, "players": 40}


@dataclass
class Ingress:
    client: httpx.AsyncClient
    emitter: HeldEmitter


@pytest.fixture
async def ingress() -> AsyncIterator[Ingress]:
    emitter = HeldEmitter(released=True)
    gateway = GatewayServer(
        "kafka",
        Settings(max_players=100),
        port=0,
        emitter=emitter,
        reservations=MemoryReservations(MemoryStore()),
    )
    await gateway.start()
    settings = Settings(
        gateway_kafka_address=f"127.0.0.1:{gateway.port}",
        ingress_max_body_bytes=512,
        ingress_max_in_flight=1,
        ingress_batch_window_ms=0,
    )
    try:
        async with ingress_client(settings, {"kafka": 100, "rabbitmq": 0}) as client:
            yield Ingress(client, emitter)
    finally:
        emitter.release.set()
        await gateway.stop(0)


@pytest.mark.asyncio
async def test_a_body_above_the_limit_is_413_and_emits_nothing(ingress: Ingress) -> None:
    body = {**GAME, "request_id": "x" * 100, "padding": "y" * 600}
    response = await ingress.client.post("/api/games", json=body)
    assert response.status_code == 413
    assert response.json()["field"] == "body"
    assert ingress.emitter.raw == []


@pytest.mark.asyncio
async def test_a_chunked_body_without_length_is_capped_too(ingress: Ingress) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"game_id": 3, "players": 40, "pad": "'
        for _ in range(10):
            yield b"z" * 100
        yield b'"}'

    response = await ingress.client.post(
        "/api/games", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert ingress.emitter.raw == []


@pytest.mark.asyncio
async def test_a_body_within_the_limit_is_played(ingress: Ingress) -> None:
    response = await ingress.client.post("/api/games", json=GAME)
    assert response.status_code == 201, response.text


@pytest.mark.asyncio
async def test_a_request_beyond_the_in_flight_cap_is_shed_with_503(ingress: Ingress) -> None:
    ingress.emitter.release.clear()
    first = asyncio.ensure_future(ingress.client.post("/api/games", json=GAME))
    await ingress.emitter.entered.wait()  # the first request holds the only slot

    shed = await ingress.client.post("/api/games", json={**GAME, "request_id": "shed"})
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert (await ingress.client.get("/metrics")).status_code == 200  # not counted as a write

    ingress.emitter.release.set()
    assert (await first).status_code == 201
    assert len(ingress.emitter.emitted) == 1
    assert ingress.emitter.emitted[0].request_id != "shed"
