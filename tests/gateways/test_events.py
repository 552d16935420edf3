"""Validating a PlayRequest and turning it into its one GameEvent."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.errors import InvalidRequest
from gateways.events import Encoded, event_as_dict, play, validate
from squidstream.contract import (
    EVENT_NAMESPACE,
    REQUEST_ID_MAX_CHARS,
    SCHEMA_VERSION,
    event_id_for,
    request_id_problem,
)
from squidstream.proto import game_pb2


def _request(**fields: object) -> game_pb2.PlayRequest:
    base: dict[str, object] = {"request_id": "r-1", "game_id": 1, "players": 10}
    base.update(fields)
    present = {key: value for key, value in base.items() if value is not None}
    return game_pb2.PlayRequest(**present)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"request_id": ""}, "request_id"),
        ({"request_id": "   "}, "request_id"),
        ({"request_id": "x" * (REQUEST_ID_MAX_CHARS + 1)}, "request_id"),
        ({"request_id": "tab\there"}, "request_id"),
        ({"request_id": "zero\u200bwidth"}, "request_id"),
        ({"game_id": None}, "game_id"),
        ({"players": None}, "players"),
        ({"game_id": 0}, "game_id"),
        ({"game_id": 6}, "game_id"),
        ({"players": 0}, "players"),
        ({"players": -3}, "players"),
        ({"players": 101}, "players"),
    ],
)
def test_invalid_request_names_the_bad_field(fields: dict[str, object], bad_field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        validate(_request(**fields), max_players=100)
    assert refused.value.field == bad_field
    assert bad_field in refused.value.message


def test_players_at_the_configured_maximum_are_accepted() -> None:
    assert validate(_request(players=100), max_players=100).players == 100


@given(st.text(min_size=1, max_size=REQUEST_ID_MAX_CHARS).filter(str.strip))
def test_event_id_is_the_uuid5_of_the_request_id(request_id: str) -> None:
    assert event_id_for(request_id) == str(uuid.uuid5(EVENT_NAMESPACE, request_id))


def test_played_event_carries_every_field_of_the_contract() -> None:
    valid = validate(_request(game_id=3, players=42), max_players=100)
    event = play(valid, route="rabbitmq", gateway_id="gw-1", occurred_at_ms=1_700_000_000_000)
    assert event_as_dict(event) == {
        "event_id": event_id_for("r-1"),
        "request_id": "r-1",
        "game_id": 3,
        "game_name": "The Last One",
        "players": 42,
        "winner": 42,
        "route": "rabbitmq",
        "gateway_id": "gw-1",
        "occurred_at_ms": 1_700_000_000_000,
        "schema_version": SCHEMA_VERSION,
    }


@given(
    request_id=st.text(min_size=1, max_size=40).filter(lambda text: not request_id_problem(text)),
    game_id=st.integers(1, 5),
    players=st.integers(1, 1000),
)
def test_replaying_a_request_gives_an_identical_event(
    request_id: str, game_id: int, players: int
) -> None:
    valid = validate(_request(request_id=request_id, game_id=game_id, players=players), 1000)
    first = play(valid, route="kafka", gateway_id="g", occurred_at_ms=5)
    again = play(valid, route="kafka", gateway_id="g", occurred_at_ms=5)
    assert first.SerializeToString(deterministic=True) == again.SerializeToString(
        deterministic=True
    )


def test_encoded_event_carries_its_id_and_exact_bytes() -> None:
    valid = validate(_request(), max_players=100)
    event = play(valid, route="kafka", gateway_id="g", occurred_at_ms=1_700_000_000_000)
    encoded = Encoded.of(event)
    assert encoded.event_id == event.event_id
    assert game_pb2.GameEvent.FromString(encoded.raw) == event
