"""The HTTP ingress in process, in front of two real gRPC gateways over in-memory emitters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from gateways.emitters.memory import MemoryEmitter
from gateways.reservations.memory import MemoryReservations, MemoryStore
from gateways.routing import RouteWeights
from gateways.server import GatewayServer
from loadtest.processes import free_port
from squidstream.settings import Settings
from tests.gateways.ingress_client import ingress_client


@dataclass
class Ingress:
    client: httpx.AsyncClient
    kafka: MemoryEmitter
    rabbitmq: MemoryEmitter


@pytest.fixture
async def ingress() -> AsyncIterator[Ingress]:
    async for ready in _serve({"kafka": 50, "rabbitmq": 50}):
        yield ready


async def _serve(weights: dict[str, int], *, rabbitmq_down: bool = False) -> AsyncIterator[Ingress]:
    emitters = {"kafka": MemoryEmitter("kafka"), "rabbitmq": MemoryEmitter("rabbitmq")}
    store = MemoryStore()  # shared by both gateways, as Redis is
    servers = [
        GatewayServer(
            route,  # type: ignore[arg-type]
            Settings(max_players=100),
            port=0,
            emitter=emitter,
            reservations=MemoryReservations(store),
        )
        for route, emitter in emitters.items()
    ]
    for server in servers:
        await server.start()
    rabbitmq_address = (
        f"127.0.0.1:{free_port()}" if rabbitmq_down else f"127.0.0.1:{servers[1].port}"
    )
    settings = Settings(
        gateway_kafka_address=f"127.0.0.1:{servers[0].port}",
        gateway_rabbitmq_address=rabbitmq_address,
        broker_timeout_s=1.0,
    )
    try:
        async with ingress_client(settings, weights) as client:  # type: ignore[arg-type]
            yield Ingress(client, emitters["kafka"], emitters["rabbitmq"])
    finally:
        for server in servers:
            await server.stop(0)


@pytest.mark.asyncio
async def test_a_game_is_played_and_its_event_returned(ingress: Ingress) -> None:
    response = await ingress.client.post("/api/games", json={"game_id": 3, "players": 40})
    assert response.status_code == 201
    body = response.json()
    assert (body["game_id"], body["players"], body["winner"]) == (3, 40, 40)
    emitted = ingress.kafka.emitted + ingress.rabbitmq.emitted
    assert [event.event_id for event in emitted] == [body["event_id"]]


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ["kafka", "rabbitmq"])
async def test_route_header_picks_the_route(ingress: Ingress, route: str) -> None:
    response = await ingress.client.post(
        "/api/games", json={"game_id": 1, "players": 4}, headers={"X-Squid-Route": route}
    )
    assert response.json()["route"] == route
    assert len(getattr(ingress, route).emitted) == 1


@pytest.mark.asyncio
async def test_request_id_header_makes_a_retry_return_the_same_event(ingress: Ingress) -> None:
    headers = {"Idempotency-Key": "retry-me", "X-Squid-Route": "kafka"}
    first = await ingress.client.post(
        "/api/games", json={"game_id": 1, "players": 9}, headers=headers
    )
    again = await ingress.client.post(
        "/api/games", json={"game_id": 1, "players": 9}, headers=headers
    )
    assert first.json() == again.json()
    assert first.json()["request_id"] == "retry-me"
    assert len(ingress.kafka.emitted) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"game_id": 9, "players": 4}, "game_id"),
        ({"game_id": 1, "players": 0}, "players"),
        ({"game_id": 1, "players": 101}, "players"),
        ({"game_id": 1}, "players"),
        ({"game_id": "one", "players": 4}, "game_id"),
        ({"game_id": 1, "players": 2**40}, "players"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_emits_nothing(
    ingress: Ingress, body: dict[str, object], field: str
) -> None:
    response = await ingress.client.post("/api/games", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert ingress.kafka.batches == ingress.rabbitmq.batches == []


@pytest.mark.asyncio
async def test_reusing_a_request_id_for_another_game_is_409(ingress: Ingress) -> None:
    headers = {"Idempotency-Key": "r-409", "X-Squid-Route": "rabbitmq"}
    await ingress.client.post("/api/games", json={"game_id": 1, "players": 9}, headers=headers)
    response = await ingress.client.post(
        "/api/games", json={"game_id": 2, "players": 9}, headers=headers
    )
    assert response.status_code == 409
    assert response.json()["field"] == "request_id"


@pytest.mark.asyncio
async def test_x_request_id_set_by_a_proxy_is_not_an_idempotency_key(ingress: Ingress) -> None:
    proxy = {"X-Request-Id": "set-by-envoy"}
    first = await ingress.client.post(
        "/api/games", json={"game_id": 1, "players": 9, "request_id": "mine"}, headers=proxy
    )
    body = {"game_id": 2, "players": 9}
    other = await ingress.client.post("/api/games", json=body, headers=proxy)
    assert (first.status_code, other.status_code) == (201, 201)
    assert first.json()["request_id"] == "mine"
    assert other.json()["request_id"] != "set-by-envoy"
    assert len(ingress.kafka.emitted + ingress.rabbitmq.emitted) == 2


@pytest.mark.asyncio
async def test_body_request_id_and_idempotency_key_that_differ_are_422(ingress: Ingress) -> None:
    response = await ingress.client.post(
        "/api/games",
        json={"game_id": 1, "players": 9, "request_id": "a"},
        headers={"Idempotency-Key": "b"},
    )
    assert (response.status_code, response.json()["field"]) == (422, "request_id")


@pytest.mark.asyncio
@pytest.mark.parametrize("request_id", ["", "   ", "bell\u0007", "x" * 129])
async def test_a_request_id_the_contract_refuses_is_422_and_emits_nothing(
    ingress: Ingress, request_id: str
) -> None:
    response = await ingress.client.post(
        "/api/games", json={"game_id": 1, "players": 9, "request_id": request_id}
    )
    assert (response.status_code, response.json()["field"]) == (422, "request_id")
    assert ingress.kafka.raw == ingress.rabbitmq.raw == []


@pytest.mark.asyncio
async def test_without_a_route_header_the_request_id_picks_the_route(ingress: Ingress) -> None:
    weights = RouteWeights({"kafka": 50, "rabbitmq": 50})
    for n in range(20):
        body = {"game_id": 1, "players": 9, "request_id": f"hash-{n}"}
        first = (await ingress.client.post("/api/games", json=body)).json()
        again = (await ingress.client.post("/api/games", json=body)).json()
        assert first == again
        assert first["route"] == weights.choose(f"hash-{n}")
    assert len(ingress.kafka.raw) + len(ingress.rabbitmq.raw) == 20
    assert ingress.kafka.raw
    assert ingress.rabbitmq.raw


@pytest.mark.asyncio
async def test_unknown_route_header_is_422(ingress: Ingress) -> None:
    response = await ingress.client.post(
        "/api/games", json={"game_id": 1, "players": 9}, headers={"X-Squid-Route": "carrier-pigeon"}
    )
    assert (response.status_code, response.json()["field"]) == (422, "X-Squid-Route")


@pytest.mark.asyncio
async def test_broker_down_behind_a_gateway_is_503(ingress: Ingress) -> None:
    ingress.kafka.down = True
    response = await ingress.client.post(
        "/api/games", json={"game_id": 1, "players": 9}, headers={"X-Squid-Route": "kafka"}
    )
    assert response.status_code == 503
    assert "unavailable" in response.json()["error"]


@pytest.mark.asyncio
async def test_gateway_not_listening_is_503_within_the_bound() -> None:
    async for ingress in _serve({"kafka": 0, "rabbitmq": 1}, rabbitmq_down=True):
        started = asyncio.get_running_loop().time()
        response = await ingress.client.post("/api/games", json={"game_id": 1, "players": 9})
        assert response.status_code == 503
        assert asyncio.get_running_loop().time() - started < 5


@pytest.mark.asyncio
async def test_weights_100_0_send_everything_to_kafka() -> None:
    async for ingress in _serve({"kafka": 100, "rabbitmq": 0}):
        for _ in range(20):
            await ingress.client.post("/api/games", json={"game_id": 1, "players": 9})
        assert (len(ingress.kafka.emitted), len(ingress.rabbitmq.emitted)) == (20, 0)


@pytest.mark.asyncio
async def test_concurrent_requests_travel_to_the_gateway_in_few_batches(ingress: Ingress) -> None:
    posts = [
        ingress.client.post(
            "/api/games", json={"game_id": 5, "players": 99}, headers={"X-Squid-Route": "kafka"}
        )
        for _ in range(100)
    ]
    responses = await asyncio.gather(*posts)
    assert {response.status_code for response in responses} == {201}
    assert len(ingress.kafka.emitted) == 100
    assert len(ingress.kafka.batches) < 20


@pytest.mark.asyncio
async def test_openapi_documents_the_games_endpoint(ingress: Ingress) -> None:
    schema = (await ingress.client.get("/openapi.json")).json()
    assert set(schema["paths"]["/api/games"]["post"]["responses"]) >= {"201", "409", "422", "503"}
