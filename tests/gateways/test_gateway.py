"""The gateway use case: reserve, emit once, settle; a retry gets the first answer anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from gateways.emitters.memory import MemoryEmitter
from gateways.errors import (
    BrokerUnavailable,
    ClockOutOfBounds,
    InvalidRequest,
    RequestConflict,
    ReservationsUnavailable,
    StillPending,
)
from gateways.events import Encoded, play, validate
from gateways.gateway import Gateway
from gateways.reservations import Claim, Verdict
from gateways.reservations.memory import MemoryReservations, MemoryStore
from squidstream.contract import OCCURRED_AT_MAX_MS, OCCURRED_AT_MIN_MS
from squidstream.proto import game_pb2
from tests.gateways.doubles import HeldEmitter, WatchedReservations

T0 = 1_700_000_000_000


def _gateway(
    emitter: MemoryEmitter,
    store: MemoryStore | None = None,
    *,
    clock_ms: int = T0,
    pending_wait_s: float = 5.0,
) -> Gateway:
    clock = iter(range(clock_ms, clock_ms + 10_000))
    return Gateway(
        emitter,
        MemoryReservations(store or MemoryStore()),
        gateway_id=f"{emitter.route}-gw",
        max_players=100,
        pending_wait_s=pending_wait_s,
        clock=lambda: next(clock),
    )


def _req(request_id: str, game_id: int = 1, players: int = 10) -> game_pb2.PlayRequest:
    return game_pb2.PlayRequest(request_id=request_id, game_id=game_id, players=players)


@pytest.mark.asyncio
async def test_a_batch_of_new_requests_is_emitted_as_one_batch_in_order() -> None:
    emitter = MemoryEmitter()
    outcomes = await _gateway(emitter).play_many([_req("a"), _req("b"), _req("c")])
    assert [len(batch) for batch in emitter.batches] == [3]
    assert [event.request_id for event in emitter.emitted] == ["a", "b", "c"]
    assert outcomes == emitter.emitted


@pytest.mark.asyncio
async def test_retry_returns_the_identical_event_without_a_second_emit() -> None:
    emitter = MemoryEmitter()
    gateway = _gateway(emitter)
    first = await gateway.play_one(_req("a", 5, 33))
    again = await gateway.play_one(_req("a", 5, 33))
    assert again.SerializeToString() == first.SerializeToString()
    assert len(emitter.emitted) == 1


@pytest.mark.asyncio
async def test_retry_on_the_other_route_gets_the_first_routes_answer() -> None:
    store, kafka, rabbitmq = MemoryStore(), MemoryEmitter("kafka"), MemoryEmitter("rabbitmq")
    first = await _gateway(kafka, store).play_one(_req("a", 4, 20))
    again = await _gateway(rabbitmq, store, clock_ms=T0 + 5000).play_one(_req("a", 4, 20))
    assert again.SerializeToString() == first.SerializeToString()
    assert (again.route, again.gateway_id) == (game_pb2.ROUTE_KAFKA, "kafka-gw")
    assert (len(kafka.raw), len(rabbitmq.raw)) == (1, 0)


@pytest.mark.asyncio
async def test_retry_with_another_game_is_refused_as_a_conflict() -> None:
    emitter = MemoryEmitter()
    gateway = _gateway(emitter)
    await gateway.play_one(_req("a", 1, 10))
    with pytest.raises(RequestConflict):
        await gateway.play_one(_req("a", 2, 10))
    assert len(emitter.emitted) == 1


@pytest.mark.asyncio
async def test_duplicate_request_id_inside_a_batch_is_emitted_once() -> None:
    emitter = MemoryEmitter()
    outcomes = await _gateway(emitter).play_many([_req("a"), _req("a"), _req("a", players=11)])
    assert len(emitter.emitted) == 1
    assert outcomes[0] == outcomes[1]
    assert isinstance(outcomes[2], RequestConflict)


@pytest.mark.asyncio
async def test_invalid_requests_in_a_batch_are_refused_and_the_rest_emitted() -> None:
    emitter = MemoryEmitter()
    outcomes = await _gateway(emitter).play_many([_req("a", game_id=9), _req("b")])
    assert isinstance(outcomes[0], InvalidRequest)
    assert outcomes[0].field == "game_id"
    assert [event.request_id for event in emitter.emitted] == ["b"]


@pytest.mark.asyncio
async def test_a_batch_of_only_invalid_requests_emits_nothing() -> None:
    emitter = MemoryEmitter()
    await _gateway(emitter).play_many([_req("a", players=0), _req("", players=3)])
    assert emitter.batches == []


@pytest.mark.asyncio
async def test_broker_down_releases_the_reservation_so_a_retry_elsewhere_decides_anew() -> None:
    store, kafka, rabbitmq = MemoryStore(), MemoryEmitter("kafka"), MemoryEmitter("rabbitmq")
    kafka.down = True
    with pytest.raises(BrokerUnavailable):
        await _gateway(kafka, store).play_one(_req("a"))
    assert store.values == {}
    event = await _gateway(rabbitmq, store).play_one(_req("a"))
    assert event.route == game_pb2.ROUTE_RABBITMQ
    assert rabbitmq.emitted == [event]


class UnsureEmitter(MemoryEmitter):
    """Keeps the events but reports a timeout, as a broker that acks too late would."""

    async def emit_many(self, events: Sequence[Encoded]) -> None:
        await super().emit_many(events)
        raise BrokerUnavailable("ack timed out", maybe_sent=True)


@pytest.mark.asyncio
async def test_an_unsure_publish_keeps_its_bytes_and_the_next_retry_republishes_them() -> None:
    store, unsure, rabbitmq = MemoryStore(), UnsureEmitter("kafka"), MemoryEmitter("rabbitmq")
    with pytest.raises(BrokerUnavailable):
        await _gateway(unsure, store).play_one(_req("a"))
    again = await _gateway(rabbitmq, store, clock_ms=T0 + 9000).play_one(_req("a"))
    assert rabbitmq.raw == unsure.raw  # identical bytes: downstream keeps one by event id
    assert again.route == game_pb2.ROUTE_KAFKA


@pytest.mark.asyncio
async def test_a_retry_while_the_first_publish_is_pending_waits_for_its_answer() -> None:
    store, slow, rabbitmq = MemoryStore(), HeldEmitter("kafka"), MemoryEmitter("rabbitmq")
    first = asyncio.create_task(_gateway(slow, store).play_one(_req("a")))
    await slow.entered.wait()
    watched = WatchedReservations(MemoryReservations(store))
    retrying = Gateway(
        rabbitmq, watched, gateway_id="rabbitmq-gw", max_players=100, pending_wait_s=5.0
    )
    retry = asyncio.create_task(retrying.play_one(_req("a")))
    await watched.waiting.wait()  # the retry found the live lease
    slow.release.set()
    answers = await asyncio.gather(first, retry)
    assert answers[0].SerializeToString() == answers[1].SerializeToString()
    assert (len(slow.raw), len(rabbitmq.raw)) == (1, 0)


@pytest.mark.asyncio
async def test_a_retry_gives_up_unavailable_when_the_pending_publish_outlasts_the_wait() -> None:
    store, slow, rabbitmq = MemoryStore(), HeldEmitter("kafka"), MemoryEmitter("rabbitmq")
    first = asyncio.create_task(_gateway(slow, store).play_one(_req("a")))
    await slow.entered.wait()
    with pytest.raises(StillPending):
        await _gateway(rabbitmq, store, pending_wait_s=0.05).play_one(_req("a"))
    slow.release.set()
    await first
    assert rabbitmq.raw == []


@pytest.mark.asyncio
async def test_a_dead_owners_reservation_is_taken_over_with_its_exact_bytes() -> None:
    now = [T0]
    store = MemoryStore(clock_ms=lambda: now[0])
    decided = play(
        validate(_req("a"), 100), route="kafka", gateway_id="dead-gw", occurred_at_ms=T0 - 7
    )
    await MemoryReservations(store, lease_s=30).reserve([Claim("a", decided.SerializeToString())])
    now[0] += 30_001  # the owner died: nobody renewed or settled its lease
    rabbitmq = MemoryEmitter("rabbitmq")
    answer = await _gateway(rabbitmq, store).play_one(_req("a"))
    assert rabbitmq.raw == [decided.SerializeToString()]
    assert answer == decided
    held = await MemoryReservations(store).reserve([Claim("a", b"other")])
    assert held[0].verdict is Verdict.ACCEPTED


@pytest.mark.asyncio
async def test_reservation_store_down_is_unavailable_and_emits_nothing() -> None:
    store, emitter = MemoryStore(), MemoryEmitter()
    store.down = True
    with pytest.raises(ReservationsUnavailable):
        await _gateway(emitter, store).play_one(_req("a"))
    assert emitter.raw == []


@pytest.mark.asyncio
@pytest.mark.parametrize("clock_ms", [0, OCCURRED_AT_MIN_MS - 1, OCCURRED_AT_MAX_MS + 1])
async def test_a_clock_outside_the_contract_bounds_emits_nothing(clock_ms: int) -> None:
    emitter = MemoryEmitter()
    outcomes = await _gateway(emitter, clock_ms=clock_ms).play_many([_req("a"), _req("b", 0)])
    assert isinstance(outcomes[0], ClockOutOfBounds)
    assert isinstance(outcomes[1], InvalidRequest)
    assert emitter.raw == []


@pytest.mark.asyncio
async def test_forgotten_reservations_replay_to_the_same_event_id_and_winner() -> None:
    emitter = MemoryEmitter()
    store = MemoryStore()
    first = await _gateway(emitter, store).play_one(_req("a", 4, 50))
    store.values.clear()  # the retry horizon has passed
    again = await _gateway(emitter, store).play_one(_req("a", 4, 50))
    assert (again.event_id, again.winner) == (first.event_id, first.winner)
    assert len(emitter.emitted) == 2
