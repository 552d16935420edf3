"""The bounded memory of recent request ids."""

from __future__ import annotations

import pytest

from gateways.dedup import RecentRequests
from gateways.errors import RequestConflict
from gateways.events import ValidRequest
from proto import game_pb2


def _event(request_id: str) -> game_pb2.GameEvent:
    return game_pb2.GameEvent(request_id=request_id, game_id=1, players=10, winner=3)


def test_remembered_event_is_found_again() -> None:
    recent = RecentRequests(10)
    recent.remember(_event("a"))
    assert recent.lookup(ValidRequest("a", 1, 10)) == _event("a")


def test_the_least_recently_used_request_id_is_forgotten_first() -> None:
    recent = RecentRequests(2)
    recent.remember(_event("a"))
    recent.remember(_event("b"))
    recent.lookup(ValidRequest("a", 1, 10))
    recent.remember(_event("c"))
    assert recent.lookup(ValidRequest("b", 1, 10)) is None
    assert recent.lookup(ValidRequest("a", 1, 10)) is not None
    assert len(recent) == 2


def test_same_request_id_with_other_players_is_a_conflict() -> None:
    recent = RecentRequests(2)
    recent.remember(_event("a"))
    with pytest.raises(RequestConflict, match="request_id"):
        recent.lookup(ValidRequest("a", 1, 11))


def test_zero_capacity_remembers_nothing() -> None:
    recent = RecentRequests(0)
    recent.remember(_event("a"))
    assert recent.lookup(ValidRequest("a", 1, 10)) is None
