"""Retries count once on any route: real Kafka, RabbitMQ and Redis, two gateways in process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import grpc
import pytest

from gateways.emitters import Emitter
from gateways.events import Encoded, play, validate
from gateways.reservations import Claim, Reservations
from gateways.reservations.redis import RedisReservations
from gateways.server import GatewayServer, make_emitter
from loadtest.processes import free_port
from squidstream.contract import RouteName
from squidstream.proto import game_pb2, game_pb2_grpc
from squidstream.settings import Settings
from tests.gateways.doubles import WatchedReservations
from tests.gateways.stack_harness import emitted

if TYPE_CHECKING:
    from squidstream.proto.game_pb2_grpc import GameGatewayAsyncStub as AsyncStub

pytestmark = pytest.mark.stack


class GatedEmitter:
    """A real emitter whose publishes wait for the test's gate; `entered` marks one waiting."""

    def __init__(self, inner: Emitter) -> None:
        self.inner = inner
        self.route: RouteName = inner.route
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def start(self) -> None:
        await self.inner.start()

    async def emit_many(self, events: Sequence[Encoded]) -> None:
        self.entered.set()
        await self.gate.wait()
        await self.inner.emit_many(events)

    async def healthy(self) -> bool:
        return await self.inner.healthy()

    async def close(self) -> None:
        await self.inner.close()


@asynccontextmanager
async def gateway(
    route: RouteName,
    settings: Settings,
    emitter: Emitter | None = None,
    reservations: Reservations | None = None,
) -> AsyncIterator[AsyncStub]:
    server = GatewayServer(route, settings, port=0, emitter=emitter, reservations=reservations)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield game_pb2_grpc.GameGatewayStub(channel)
    finally:
        await server.stop(0)


def _req(request_id: str, game_id: int = 1, players: int = 30) -> game_pb2.PlayRequest:
    return game_pb2.PlayRequest(request_id=request_id, game_id=game_id, players=players)


async def _play(stub: AsyncStub, request: game_pb2.PlayRequest) -> game_pb2.GameEvent:
    return (await stub.Play(request, timeout=30)).event


async def _everything(settings: Settings) -> dict[RouteName, list[bytes]]:
    return {route: await emitted(route, settings) for route in ("kafka", "rabbitmq")}


async def _refusal(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    return refused.value


@pytest.mark.asyncio
async def test_a_retry_on_the_other_route_gets_the_identical_answer_and_one_event(
    isolated: Settings,
) -> None:
    async with gateway("kafka", isolated) as kafka, gateway("rabbitmq", isolated) as rabbitmq:
        first = (await kafka.Play(_req("cross"))).event
        again = (await rabbitmq.Play(_req("cross"))).event
        batch = game_pb2.PlayBatch(requests=[_req("cross"), _req("fresh")])
        streamed = [reply async for reply in rabbitmq.PlayStream(iter([batch]))]
    assert again.SerializeToString() == first.SerializeToString()
    assert streamed[0].results[0].event == first
    records = await _everything(isolated)
    assert records["kafka"] == [first.SerializeToString()]
    assert [game_pb2.GameEvent.FromString(r).request_id for r in records["rabbitmq"]] == ["fresh"]


@pytest.mark.asyncio
async def test_a_retry_while_the_first_publish_is_pending_waits_and_gets_its_answer(
    isolated: Settings,
) -> None:
    slow = GatedEmitter(make_emitter("kafka", isolated))
    watched = WatchedReservations(RedisReservations(isolated))
    async with (
        gateway("kafka", isolated, slow) as kafka,
        gateway("rabbitmq", isolated, reservations=watched) as other,
    ):
        first = asyncio.ensure_future(_play(kafka, _req("in-flight")))
        await slow.entered.wait()  # reserved, not yet published
        retry = asyncio.ensure_future(_play(other, _req("in-flight")))
        await watched.waiting.wait()  # the retry saw the live lease and waits
        slow.gate.set()
        answers = await asyncio.gather(first, retry)
    assert answers[0].SerializeToString() == answers[1].SerializeToString()
    records = await _everything(isolated)
    assert (len(records["kafka"]), len(records["rabbitmq"])) == (1, 0)


@pytest.mark.asyncio
async def test_a_retry_after_a_gateway_restart_gets_the_identical_answer(
    isolated: Settings,
) -> None:
    async with gateway("rabbitmq", isolated) as before:
        first = (await before.Play(_req("restart", 4, 41))).event
    async with gateway("rabbitmq", isolated) as after:  # a new process: new owner, no memory
        again = (await after.Play(_req("restart", 4, 41))).event
    assert again.SerializeToString() == first.SerializeToString()
    assert (await _everything(isolated))["rabbitmq"] == [first.SerializeToString()]


@pytest.mark.asyncio
async def test_the_same_request_id_for_another_game_is_already_exists_on_any_route(
    isolated: Settings,
) -> None:
    async with gateway("kafka", isolated) as kafka, gateway("rabbitmq", isolated) as rabbitmq:
        await kafka.Play(_req("taken", 1, 30))
        error = await _refusal(rabbitmq.Play(_req("taken", 1, 31)))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    records = await _everything(isolated)
    assert (len(records["kafka"]), len(records["rabbitmq"])) == (1, 0)


@pytest.mark.asyncio
@pytest.mark.parametrize("route", ["kafka", "rabbitmq"])
async def test_redis_unreachable_is_unavailable_and_nothing_is_emitted(
    route: RouteName, isolated: Settings
) -> None:
    nowhere = isolated.model_copy(update={"redis_port": free_port(), "broker_timeout_s": 2.0})
    async with gateway(route, nowhere) as stub:
        error = await _refusal(stub.Play(_req("no-redis"), timeout=30))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "redis" in (error.details() or "")
    assert await emitted(route, isolated) == []


@pytest.mark.asyncio
async def test_a_failed_publish_releases_the_reservation_and_a_later_retry_succeeds(
    isolated: Settings,
) -> None:
    dead_kafka = isolated.model_copy(update={"kafka_port": free_port(), "broker_timeout_s": 2.0})
    async with gateway("kafka", dead_kafka) as kafka:
        error = await _refusal(kafka.Play(_req("released"), timeout=30))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    async with gateway("rabbitmq", isolated) as rabbitmq:
        event = (await rabbitmq.Play(_req("released"))).event
    assert event.route == game_pb2.ROUTE_RABBITMQ
    records = await _everything(isolated)
    assert records == {"kafka": [], "rabbitmq": [event.SerializeToString()]}


@pytest.mark.asyncio
async def test_a_dead_gateways_reservation_is_republished_byte_for_byte_by_the_next_retry(
    isolated: Settings,
) -> None:
    request = _req("orphan", 5, 77)
    decided = play(
        validate(request, isolated.max_players),
        route="kafka",
        gateway_id="kafka-dead-1",
        occurred_at_ms=1_700_000_000_000,
    )
    dead = RedisReservations(isolated, lease_s=0)  # reserved, then died before publishing
    try:
        await dead.reserve([Claim("orphan", decided.SerializeToString())])
    finally:
        await dead.close()
    async with gateway("rabbitmq", isolated) as rabbitmq:
        answer = (await rabbitmq.Play(request)).event
        again = (await rabbitmq.Play(request)).event
    assert answer == again == decided
    records = await _everything(isolated)
    assert records == {"kafka": [], "rabbitmq": [decided.SerializeToString()]}
