"""Locust floods: `IngressUser` posts to the HTTP ingress, `GatewayUser` calls the gateways.

Both read a traffic file (--traffic-file) and split traffic by --kafka-weight and
--rabbitmq-weight: the HTTP user names the route in the `X-Squid-Route` header, which the
ingress honours, so one running ingress serves any split. `GatewayUser` sends
--grpc-batch requests per PlayStream message (1 means unary Play calls) and counts every
game request as one Locust request whose response time is that of its batch.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from pathlib import Path
from typing import Any

import grpc.experimental.gevent as grpc_gevent

grpc_gevent.init_gevent()  # gRPC's own threads must cooperate with Locust's gevent loop.

import grpc  # noqa: E402
from locust import FastHttpUser, User, constant, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402

from loadtest.traffic import DEFAULT_TRAFFIC, GameSpec, load  # noqa: E402
from squidstream import auth  # noqa: E402
from squidstream.grpc_client import gateway_channel_sync  # noqa: E402
from squidstream.proto import game_pb2, game_pb2_grpc  # noqa: E402
from squidstream.route_names import ROUTE_LIST  # noqa: E402
from squidstream.settings import get_settings  # noqa: E402


def _add_options(parser: Any) -> None:
    parser.add_argument("--traffic-file", default=str(DEFAULT_TRAFFIC), help="JSON traffic file")
    parser.add_argument("--kafka-weight", type=int, default=50)
    parser.add_argument("--rabbitmq-weight", type=int, default=50)
    parser.add_argument("--grpc-batch", type=int, default=100, help="requests per stream message")
    parser.add_argument("--gateway-kafka", default="127.0.0.1:50051")
    parser.add_argument("--gateway-rabbitmq", default="127.0.0.1:50052")


events.init_command_line_parser.add_listener(_add_options)  # type: ignore[no-untyped-call]


class Flood:
    """What every user of one Locust process shares: the traffic and the route weights."""

    def __init__(self, environment: Environment) -> None:
        options = environment.parsed_options
        assert options is not None, "Locust parses options before users start"
        self.games = load(Path(options.traffic_file))
        self.weights = [options.kafka_weight, options.rabbitmq_weight]
        if min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ValueError(f"route weights must be >= 0 and not all zero: {self.weights}")
        self._games = itertools.cycle(random.Random().sample(self.games, len(self.games)))
        # SQUID_WRITE_TOKEN, when set, travels with every call (the env, never the command line).
        token = get_settings().write_token
        self.http_headers = auth.http_headers(token)
        self.grpc_metadata = auth.grpc_metadata(token)

    def next_game(self) -> GameSpec:
        return next(self._games)

    def route(self) -> str:
        return random.choices(ROUTE_LIST, weights=self.weights)[0]


def _flood(environment: Environment) -> Flood:
    flood = getattr(environment, "squid_flood", None)
    if flood is None:
        flood = Flood(environment)
        environment.squid_flood = flood  # type: ignore[attr-defined]
    return flood


class IngressUser(FastHttpUser):
    """A client of the HTTP ingress, as the original system's Locust users were."""

    wait_time = constant(0)

    @task
    def play(self) -> None:
        flood = _flood(self.environment)
        game, route = flood.next_game(), flood.route()
        body = {"game_id": game.game_id, "players": game.players, "request_id": str(uuid.uuid4())}
        with self.client.post(
            "/api/games",
            json=body,
            headers={"X-Squid-Route": route, **flood.http_headers},
            name=f"POST /api/games [{route}]",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}: {response.text}")
            elif response.json().get("route") != route:
                response.failure(f"answered by the wrong route: {response.text}")


class GatewayUser(User):
    """A high-rate client of the gRPC gateways, many requests per stream message."""

    wait_time = constant(0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        assert options is not None, "Locust parses options before users start"
        self.batch = max(1, options.grpc_batch)
        targets = {"kafka": options.gateway_kafka, "rabbitmq": options.gateway_rabbitmq}
        settings = get_settings()
        self.channels = {
            route: gateway_channel_sync(settings, target) for route, target in targets.items()
        }
        self.stubs = {
            route: game_pb2_grpc.GameGatewayStub(channel)
            for route, channel in self.channels.items()
        }

    def on_stop(self) -> None:
        for channel in self.channels.values():
            channel.close()

    def _requests(self) -> list[game_pb2.PlayRequest]:
        flood = _flood(self.environment)
        games = [flood.next_game() for _ in range(self.batch)]
        return [
            game_pb2.PlayRequest(request_id=str(uuid.uuid4()), game_id=g.game_id, players=g.players)
            for g in games
        ]

    def _report(self, name: str, started: float, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="grpc",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=error,
            context={},
        )

    @task
    def play(self) -> None:
        route = _flood(self.environment).route()
        requests = self._requests()
        started = time.perf_counter()
        if self.batch == 1:
            try:
                metadata = _flood(self.environment).grpc_metadata
                self.stubs[route].Play(requests[0], timeout=10, metadata=metadata)
            except grpc.RpcError as exc:
                self._report(f"Play [{route}]", started, exc)
            else:
                self._report(f"Play [{route}]", started, None)
            return
        self._play_stream(route, requests, started)

    def _play_stream(
        self, route: str, requests: list[game_pb2.PlayRequest], started: float
    ) -> None:
        name = f"PlayStream [{route}]"
        try:
            call = self.stubs[route].PlayStream
            batch = game_pb2.PlayBatch(requests=requests)
            metadata = _flood(self.environment).grpc_metadata
            replies = list(call(iter([batch]), timeout=10, metadata=metadata))
        except grpc.RpcError as exc:
            for _ in requests:
                self._report(name, started, exc)
            return
        results = replies[0].results if replies else []
        for result in results:
            failed = result.HasField("error")
            self._report(name, started, RuntimeError(result.error.message) if failed else None)
        for _ in range(len(requests) - len(results)):
            self._report(name, started, RuntimeError("no result for this request"))
