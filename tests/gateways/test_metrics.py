"""Gateway and ingress metrics: what they count, under which labels, and where they are served."""

from __future__ import annotations

import socket
import urllib.request

import httpx
import pytest
from prometheus_client import CollectorRegistry

from gateways.emitters.memory import MemoryEmitter
from gateways.errors import BrokerUnavailable, InvalidRequest, StillPending
from gateways.gateway import Gateway
from gateways.ingress import create_app
from gateways.metrics import MetricsEndpoint, open_endpoint, reason_of
from gateways.reservations.memory import MemoryReservations, MemoryStore
from gateways.routing import RouteWeights
from gateways.server import GatewayServer
from squidstream.proto import game_pb2
from squidstream.settings import Settings


def _gateway(emitter: MemoryEmitter) -> Gateway:
    return Gateway(
        emitter,
        MemoryReservations(MemoryStore()),
        gateway_id="kafka-gw",
        max_players=100,
        pending_wait_s=1.0,
    )


def _req(request_id: str, game_id: int = 1, players: int = 10) -> game_pb2.PlayRequest:
    return game_pb2.PlayRequest(request_id=request_id, game_id=game_id, players=players)


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_reasons_are_the_error_class_in_snake_case() -> None:
    assert reason_of(InvalidRequest("players", "x")) == "invalid_request"
    assert reason_of(StillPending("x")) == "still_pending"
    assert reason_of(BrokerUnavailable("x")) == "broker_unavailable"


@pytest.mark.asyncio
async def test_accepted_events_count_new_events_once_and_retries_as_replayed_answers() -> None:
    gateway = _gateway(MemoryEmitter("kafka"))
    registry = gateway.metrics.registry

    await gateway.play_many([_req("a"), _req("b"), _req("a"), _req("c", game_id=9)])
    await gateway.play_many([_req("a"), _req("b", players=11)])

    assert _value(registry, "squid_gateway_accepted_events_total", route="kafka") == 2
    assert _value(registry, "squid_gateway_replayed_answers_total", route="kafka") == 2
    refused = "squid_gateway_refused_requests_total"
    assert _value(registry, refused, route="kafka", reason="invalid_request", field="game_id") == 1
    conflict = {"route": "kafka", "reason": "request_conflict", "field": "request_id"}
    assert _value(registry, refused, **conflict) == 1
    verdicts = "squid_gateway_reservations_total"
    assert _value(registry, verdicts, route="kafka", verdict="reserved") == 2
    assert _value(registry, verdicts, route="kafka", verdict="accepted") == 2
    assert _value(registry, "squid_gateway_publish_seconds_count", route="kafka") == 1


@pytest.mark.asyncio
async def test_a_broker_that_is_down_counts_a_failed_publish_and_refusals_not_acceptances() -> None:
    emitter = MemoryEmitter("rabbitmq")
    gateway = _gateway(emitter)
    emitter.down = True

    await gateway.play_many([_req("a"), _req("b")])

    registry = gateway.metrics.registry
    assert _value(registry, "squid_gateway_accepted_events_total", route="rabbitmq") == 0
    assert _value(registry, "squid_gateway_publish_failures_total", route="rabbitmq") == 1
    labels = {"route": "rabbitmq", "reason": "broker_unavailable", "field": ""}
    assert _value(registry, "squid_gateway_refused_requests_total", **labels) == 2


def test_the_endpoint_serves_its_registry_on_loopback_and_frees_the_port_on_close() -> None:
    gateway = _gateway(MemoryEmitter("kafka"))
    gateway.metrics.accepted.inc(3)
    endpoint = MetricsEndpoint(gateway.metrics.registry, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{endpoint.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    finally:
        endpoint.close()
    assert 'squid_gateway_accepted_events_total{route="kafka"} 3.0' in text
    with socket.socket() as probe:
        # Released: a restarted gateway binds it again (the scrape leaves it in TIME_WAIT).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", endpoint.port))


def test_a_taken_metrics_port_is_logged_and_the_gateway_goes_on_without_metrics(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert open_endpoint(CollectorRegistry(), "127.0.0.1", port) is None
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text


@pytest.mark.asyncio
async def test_the_ingress_counts_requests_by_template_and_games_by_route_and_outcome() -> None:
    server = GatewayServer(
        "kafka",
        Settings(max_players=100),
        port=0,
        emitter=MemoryEmitter("kafka"),
        reservations=MemoryReservations(MemoryStore()),
    )
    await server.start()
    settings = Settings(gateway_kafka_address=f"127.0.0.1:{server.port}", broker_timeout_s=1.0)
    app = create_app(settings, RouteWeights({"kafka": 1}))
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as api,
        ):
            assert (await api.post("/api/games", json={"game_id": 1, "players": 5})).is_success
            bad = await api.post("/api/games", json={"game_id": 9, "players": 5})
            assert bad.status_code == 422
            text = (await api.get("/metrics")).text
    finally:
        await server.stop(0)
    registry = app.state.metrics.registry
    games = "squid_ingress_games_total"
    assert _value(registry, games, route="kafka", outcome="accepted") == 1
    assert _value(registry, games, route="kafka", outcome="invalid_argument") == 1
    posts = {"method": "POST", "path": "/api/games"}
    assert _value(registry, "squid_ingress_requests_total", status="201", **posts) == 1
    assert _value(registry, "squid_ingress_requests_total", status="422", **posts) == 1
    assert _value(registry, "squid_ingress_request_seconds_count", **posts) == 2
    assert _value(registry, "squid_ingress_route_seconds_count", route="kafka") == 2
    assert "squid_ingress_games_total" in text
