"""Whatever a gateway accepts, the worker's decoder accepts; whatever it refuses, it never emits."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways.emitters.memory import MemoryEmitter
from gateways.errors import GatewayError
from gateways.gateway import Gateway
from gateways.reservations.memory import MemoryReservations
from squidstream.contract import (
    OCCURRED_AT_MAX_MS,
    OCCURRED_AT_MIN_MS,
    PLAYERS_MAX,
    RouteName,
    default_gateway_id,
)
from squidstream.proto import game_pb2
from streams.projection.decode import Event, decode

INT32 = st.integers(-(2**31), 2**31 - 1)
# Every length 0..200, any code point protobuf strings can carry (control, format, blanks,
# astral), and some chosen near the 128-character limit.
request_ids = st.one_of(
    st.integers(0, 200).flatmap(
        lambda size: st.text(st.characters(exclude_categories=["Cs"]), min_size=size, max_size=size)
    ),
    st.integers(120, 136).map(lambda size: "\U0001f991" * size),
    st.sampled_from(["", " ", "\t", "ok", "\u200b", "a\x00b", "\x7f"]),
)
game_ids = st.one_of(st.none(), st.integers(0, 6), INT32)
player_counts = st.one_of(st.none(), st.integers(-1, 1001), st.just(PLAYERS_MAX), INT32)
clocks = st.one_of(
    st.integers(OCCURRED_AT_MIN_MS, OCCURRED_AT_MAX_MS),
    st.sampled_from([0, OCCURRED_AT_MIN_MS - 1, OCCURRED_AT_MAX_MS + 1, 2**62]),
)


@st.composite
def play_requests(draw: st.DrawFn) -> game_pb2.PlayRequest:
    fields: dict[str, object] = {"request_id": draw(request_ids)}
    for name, values in (("game_id", game_ids), ("players", player_counts)):
        value = draw(values)
        if value is not None:
            fields[name] = value
    return game_pb2.PlayRequest(**fields)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(play_requests(), min_size=1, max_size=8),
    route=st.sampled_from(["kafka", "rabbitmq"]),
    host=st.text(max_size=300),
    pid=st.integers(0, 2**22),
    clock_ms=clocks,
    max_players=st.integers(1, PLAYERS_MAX),
)
def test_accepted_requests_decode_and_refused_ones_are_never_emitted(
    batch: list[game_pb2.PlayRequest],
    route: RouteName,
    host: str,
    pid: int,
    clock_ms: int,
    max_players: int,
) -> None:
    emitter = MemoryEmitter(route)
    gateway = Gateway(
        emitter,
        MemoryReservations(),
        gateway_id=default_gateway_id(route, host, pid),
        max_players=max_players,
        pending_wait_s=1.0,
        clock=lambda: clock_ms,
    )
    outcomes = asyncio.run(gateway.play_many(batch))

    accepted = {o.request_id: o for o in outcomes if isinstance(o, game_pb2.GameEvent)}
    decoded = [decode(raw) for raw in emitter.raw]
    assert all(isinstance(event, Event) for event in decoded), decoded
    # One record per accepted request id and nothing else: a refused request is emitted only
    # if the same id was accepted in the same batch (a repeat refused as a conflict).
    assert sorted(e.request_id for e in decoded if isinstance(e, Event)) == sorted(accepted)
    for request, outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, GatewayError) and request.request_id not in accepted:
            assert all(e.request_id != request.request_id for e in decoded if isinstance(e, Event))
    for raw in emitter.raw:
        event = game_pb2.GameEvent.FromString(raw)
        assert event == accepted[event.request_id]
