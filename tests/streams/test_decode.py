"""Decoding and validation of GameEvent bytes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proto import game_pb2
from streams.decode import GAME_NAMES, DeadLetter, Event, decode, encode


@st.composite
def events(draw: st.DrawFn) -> Event:
    players = draw(st.integers(1, 1000))
    game_id = draw(st.sampled_from(sorted(GAME_NAMES)))
    return Event(
        event_id=draw(st.uuids()).hex,
        request_id=draw(st.text(max_size=64)),
        game_id=game_id,
        game_name=GAME_NAMES[game_id],
        players=players,
        winner=draw(st.integers(1, players)),
        route=draw(st.sampled_from(["kafka", "rabbitmq"])),
        gateway_id=draw(st.text(max_size=20)),
        occurred_at_ms=draw(st.integers(1, 2**53)),
        schema_version=1,
    )


@given(events())
def test_a_valid_event_survives_encode_and_decode_unchanged(event: Event) -> None:
    assert decode(encode(event)) == event


def test_decode_records_partition_and_offset_of_the_source() -> None:
    event = dataclasses.replace(_valid(), partition=3, offset=42)
    assert decode(encode(_valid()), 3, 42) == event


@pytest.mark.parametrize("raw", [b"", None, b"\xff\xff\xff", b"not protobuf at all \x00\x01"])
def test_undecodable_bytes_become_a_dead_letter_not_an_exception(raw: bytes | None) -> None:
    assert isinstance(decode(raw), DeadLetter)


@pytest.mark.parametrize(
    ("change", "reason_part"),
    [
        ({"event_id": ""}, "event_id"),
        ({"game_id": 6}, "game_id"),
        ({"game_id": 0}, "game_id"),
        ({"players": 0, "winner": 0}, "players"),
        ({"winner": 11}, "winner"),
        ({"winner": 0}, "winner"),
        ({"route": game_pb2.ROUTE_UNSPECIFIED}, "route"),
        ({"occurred_at_ms": 0}, "occurred_at_ms"),
        ({"schema_version": 99}, "schema_version"),
    ],
)
def test_an_event_breaking_a_rule_is_a_dead_letter_naming_the_rule(
    change: dict[str, object], reason_part: str
) -> None:
    message = game_pb2.GameEvent()
    message.ParseFromString(encode(_valid()))
    for field, value in change.items():
        setattr(message, field, value)
    raw = message.SerializeToString()
    result = decode(raw)
    assert isinstance(result, DeadLetter)
    assert reason_part in result.reason
    assert result.raw == raw


def _valid() -> Event:
    return Event("e1", "r1", 1, "Random", 10, 7, "kafka", "gw", 1_700_000_000_000, 1)
