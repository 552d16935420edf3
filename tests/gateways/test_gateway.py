"""The gateway use case: one emit per new request, retries remembered, refusals emit nothing."""

from __future__ import annotations

import pytest

from gateways.dedup import RecentRequests
from gateways.emitters.memory import MemoryEmitter
from gateways.errors import BrokerUnavailable, InvalidRequest, RequestConflict
from gateways.gateway import Gateway
from proto import game_pb2


def _gateway(emitter: MemoryEmitter, capacity: int = 100) -> Gateway:
    clock = iter(range(1000, 10_000))
    return Gateway(
        emitter,
        gateway_id="gw",
        max_players=100,
        recent=RecentRequests(capacity),
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
    assert again == first
    assert len(emitter.emitted) == 1


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
async def test_broker_down_refuses_new_requests_and_forgets_them_for_a_later_retry() -> None:
    emitter = MemoryEmitter()
    gateway = _gateway(emitter)
    emitter.down = True
    with pytest.raises(BrokerUnavailable):
        await gateway.play_one(_req("a"))
    emitter.down = False
    event = await gateway.play_one(_req("a"))
    assert emitter.emitted == [event]


@pytest.mark.asyncio
async def test_broker_down_still_answers_remembered_retries() -> None:
    emitter = MemoryEmitter()
    gateway = _gateway(emitter)
    known = await gateway.play_one(_req("a"))
    emitter.down = True
    outcomes = await gateway.play_many([_req("a"), _req("b")])
    assert outcomes[0] == known
    assert isinstance(outcomes[1], BrokerUnavailable)


@pytest.mark.asyncio
async def test_forgotten_request_ids_are_replayed_to_the_same_event_id_and_winner() -> None:
    emitter = MemoryEmitter()
    gateway = _gateway(emitter, capacity=1)
    first = await gateway.play_one(_req("a", 4, 50))
    await gateway.play_one(_req("b"))
    again = await gateway.play_one(_req("a", 4, 50))
    assert (again.event_id, again.winner) == (first.event_id, first.winner)
    assert len(emitter.emitted) == 3
