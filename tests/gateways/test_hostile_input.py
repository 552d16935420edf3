"""Hostile input, fuzzed with hypothesis against a real gateway and a real ingress in front of it.

Arbitrary bytes and arbitrary messages on Play and PlayStream, raw bytes on POST /api/games:
nothing crashes, every refusal is INVALID_ARGUMENT (HTTP 422) naming a field that is really at
fault, and nothing refused is ever emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import grpc
import httpx
import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways.emitters.memory import MemoryEmitter
from gateways.reservations.memory import MemoryReservations, MemoryStore
from gateways.server import GatewayServer
from gateways.service import FIELD_METADATA_KEY
from squidstream.contract import game_problem, players_problem, request_id_problem
from squidstream.proto import game_pb2
from squidstream.settings import Settings
from tests.gateways.ingress_client import ingress_client
from tests.gateways.test_gateway_contract import play_requests

T = TypeVar("T")
MAX_PLAYERS = 100
MAX_BATCH = 20
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PLAY = "/squidstream.v1.GameGateway/Play"
PLAY_STREAM = "/squidstream.v1.GameGateway/PlayStream"


@dataclass
class Running:
    """A gateway served from its own event loop thread, and what it was asked so far."""

    port: int
    emitter: MemoryEmitter
    loop: asyncio.AbstractEventLoop
    games: dict[str, tuple[int, int]] = field(default_factory=dict)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the gateway's loop (the ingress runs there too)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(60)


@pytest.fixture(scope="module")
def gateway() -> Iterator[Running]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    emitter = MemoryEmitter("kafka")

    async def start() -> GatewayServer:
        server = GatewayServer(
            "kafka",
            Settings(max_players=MAX_PLAYERS, gateway_max_batch=MAX_BATCH),
            port=0,
            emitter=emitter,
            reservations=MemoryReservations(MemoryStore()),
        )
        await server.start()
        return server

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield Running(server.port, emitter, loop)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(0), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def channel(gateway: Running) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        yield channel


def _faulty_fields(request: game_pb2.PlayRequest) -> set[str]:
    """Every field of a decoded request the contract refuses (the gateway names one of them)."""
    faults = set()
    if request_id_problem(request.request_id) is not None:
        faults.add("request_id")
    if not request.HasField("game_id") or game_problem(request.game_id) is not None:
        faults.add("game_id")
    if not request.HasField("players") or players_problem(request.players, MAX_PLAYERS):
        faults.add("players")
    return faults


def _expect(gateway: Running, request: game_pb2.PlayRequest) -> str:
    """ "ok", "conflict" (a request id used before for another game) or "invalid"."""
    if _faulty_fields(request):
        return "invalid"
    game = (request.game_id, request.players)
    first = gateway.games.setdefault(request.request_id, game)
    return "ok" if first == game else "conflict"


def _decoded(raw: bytes, message: type[game_pb2.PlayRequest] | type[game_pb2.PlayBatch]) -> object:
    try:
        return message.FromString(raw)
    except DecodeError:
        return None


def _refusal(call: Callable[[], T]) -> tuple[T | None, grpc.Call | None]:
    """The call's result, or the error it ended with (as a grpc.Call, for code and metadata)."""
    try:
        return call(), None
    except grpc.RpcError as exc:
        # The error a finished call raises is also its grpc.Call (the stubs cannot say so).
        return None, cast(grpc.Call, exc)


def _named(error: grpc.Call) -> str | None:
    value = dict(error.trailing_metadata() or ()).get(FIELD_METADATA_KEY)
    return None if value is None else str(value)


def _check_play(gateway: Running, channel: grpc.Channel, raw: bytes) -> None:
    before = len(gateway.emitter.raw)
    call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(PLAY)
    request = _decoded(raw, game_pb2.PlayRequest)
    answer, error = _refusal(lambda: call(raw, timeout=10))
    if error is not None:
        assert len(gateway.emitter.raw) == before, "a refused call emitted something"
        if not isinstance(request, game_pb2.PlayRequest):
            assert (error.code(), _named(error)) == (grpc.StatusCode.INVALID_ARGUMENT, "request")
            return
        expected = _expect(gateway, request)
        if expected == "conflict":
            assert error.code() is grpc.StatusCode.ALREADY_EXISTS
            return
        assert expected == "invalid", f"a valid request was refused: {error.details()}"
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert _named(error) in _faulty_fields(request)
        return
    assert isinstance(request, game_pb2.PlayRequest), "undecodable bytes were accepted"
    assert _expect(gateway, request) == "ok"
    assert game_pb2.PlayReply.FromString(answer or b"").event.request_id == request.request_id
    assert len(gateway.emitter.raw) in (before, before + 1)  # a retry is answered, not re-sent


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_on_play(gateway: Running, channel: grpc.Channel, raw: bytes) -> None:
    _check_play(gateway, channel, raw)


@FUZZ
@given(request=play_requests(), tail=st.binary(max_size=20))
def test_arbitrary_messages_on_play(
    gateway: Running, channel: grpc.Channel, request: game_pb2.PlayRequest, tail: bytes
) -> None:
    # A well-formed message, sometimes followed by junk (unknown fields or a broken tag).
    _check_play(gateway, channel, request.SerializeToString() + tail)


@FUZZ
@given(
    raws=st.lists(
        st.one_of(
            st.binary(max_size=200),
            st.lists(play_requests(), max_size=25).map(
                lambda rs: game_pb2.PlayBatch(requests=rs).SerializeToString()
            ),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_arbitrary_stream_messages(
    gateway: Running, channel: grpc.Channel, raws: list[bytes]
) -> None:
    before = len(gateway.emitter.raw)
    call: grpc.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(PLAY_STREAM)
    replies: list[bytes] = []
    _, error = _refusal(lambda: replies.extend(call(iter(raws), timeout=10)))
    if error is not None:
        # The whole call is refused only for a message that is not a batch within the limits.
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        batch = _decoded(raws[len(replies)], game_pb2.PlayBatch)
        if isinstance(batch, game_pb2.PlayBatch):
            assert _named(error) == "requests"
            assert len(batch.requests) > MAX_BATCH
        else:
            assert _named(error) == "batch"
    emitted = [game_pb2.GameEvent.FromString(raw) for raw in gateway.emitter.raw[before:]]
    accepted = 0
    for raw, reply in zip(raws, replies, strict=False):
        batch = game_pb2.PlayBatch.FromString(raw)
        results = game_pb2.PlayBatchReply.FromString(reply).results
        assert len(results) == len(batch.requests)
        for request, result in zip(batch.requests, results, strict=True):
            expected = _expect(gateway, request)
            if result.HasField("error"):
                assert expected != "ok", f"a valid request was refused: {result.error}"
                want = "ALREADY_EXISTS" if expected == "conflict" else "INVALID_ARGUMENT"
                assert result.error.code == grpc.StatusCode[want].value[0]
                if expected == "invalid":
                    assert result.error.field in _faulty_fields(request)
            else:
                assert expected == "ok"
                accepted += 1
    if error is None:
        assert len(emitted) <= accepted
    # A stream ended by a refused later message can lose the replies of batches already
    # played (the client retries them and gets the same answer); what must never happen is
    # an event for a request the contract refuses.
    sent = [
        request
        for raw in raws
        if isinstance(batch := _decoded(raw, game_pb2.PlayBatch), game_pb2.PlayBatch)
        for request in batch.requests
    ]
    valid_ids = {request.request_id for request in sent if not _faulty_fields(request)}
    assert {event.request_id for event in emitted} <= valid_ids


@pytest.fixture(scope="module")
def ingress(gateway: Running) -> Iterator[httpx.AsyncClient]:
    """The ingress app in front of the gateway, on the gateway's loop."""
    settings = Settings(gateway_kafka_address=f"127.0.0.1:{gateway.port}", broker_timeout_s=2.0)
    stack = contextlib.AsyncExitStack()

    async def enter() -> httpx.AsyncClient:
        client = ingress_client(settings, {"kafka": 100, "rabbitmq": 0})
        return await stack.enter_async_context(client)

    client = gateway.run(enter())
    try:
        yield client
    finally:
        gateway.run(stack.aclose())


JSON_ISH = st.one_of(
    st.binary(max_size=400),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {"game_id": st.integers(-10, 10), "players": st.integers(-10, 2000)},
        optional={"request_id": st.text(max_size=140)},
    ).map(lambda value: json.dumps(value).encode()),
)


@FUZZ
@given(body=JSON_ISH, content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_raw_bytes_on_the_ingress(
    gateway: Running, ingress: httpx.AsyncClient, body: bytes, content_type: str
) -> None:
    before = len(gateway.emitter.raw)
    headers = {"Content-Type": content_type} if content_type else {}
    response = gateway.run(ingress.post("/api/games", content=body, headers=headers))
    assert response.status_code in (201, 409, 413, 422), response.text
    if response.status_code == 422:
        assert response.json()["error"] == "invalid_argument"
        assert isinstance(response.json()["field"], str)
    if response.status_code != 201:
        assert len(gateway.emitter.raw) == before, "a refused request emitted something"
