"""Decoding and validation of GameEvent bytes."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squidstream.contract import (
    EVENT_FIELDS,
    EVENT_MAX_BYTES,
    GAMES,
    OCCURRED_AT_MAX_MS,
    OCCURRED_AT_MIN_MS,
    PLAYERS_MAX,
    event_id_for,
)
from squidstream.proto import game_pb2
from streams.bench.synthetic import played
from streams.projection.decode import DeadLetter, Event, decode, encode

request_ids = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=128
).filter(lambda text: text.strip() != "" and text.isprintable())
gateway_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", fullmatch=True)


@st.composite
def events(draw: st.DrawFn) -> Event:
    """Any event the contract allows: every request id length, any player count."""
    players = draw(st.integers(1, PLAYERS_MAX))
    game_id = draw(st.sampled_from(sorted(GAMES)))
    request_id = draw(request_ids)
    return played(
        request_id,
        game_id,
        players,
        random.Random(draw(st.integers())),
        route=draw(st.sampled_from(["kafka", "rabbitmq"])),
        gateway_id=draw(gateway_ids),
        occurred_at_ms=draw(st.integers(OCCURRED_AT_MIN_MS, OCCURRED_AT_MAX_MS)),
    )


@given(events())
def test_a_valid_event_survives_encode_and_decode_unchanged(event: Event) -> None:
    assert decode(encode(event)) == event


def test_an_event_holds_the_game_event_fields_in_proto_order_then_its_log_position() -> None:
    names = tuple(field.name for field in dataclasses.fields(Event))
    assert names == (*EVENT_FIELDS, "partition", "offset")


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
        ({"event_id": "00000000-0000-5000-8000-000000000000"}, "event_id"),
        ({"request_id": "r" * 129}, "request_id"),
        ({"request_id": "bell\x07"}, "request_id"),
        ({"gateway_id": "g" * 65}, "gateway_id"),
        ({"gateway_id": "has space"}, "gateway_id"),
        ({"game_name": "Squid"}, "game_name"),
        ({"game_id": 3, "game_name": "The Last One", "winner": 9}, "winner"),
        ({"game_id": 4, "game_name": "Even Game", "winner": 7}, "winner"),
        ({"occurred_at_ms": 253_402_300_800_000}, "occurred_at_ms"),
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
    if "request_id" in change:  # keep the event id matching, so the request id is at fault
        message.event_id = event_id_for(message.request_id)
    raw = message.SerializeToString()
    result = decode(raw)
    assert isinstance(result, DeadLetter)
    assert reason_part in result.reason
    assert result.raw == raw


def test_a_record_over_the_size_limit_is_a_dead_letter_before_parsing() -> None:
    result = decode(encode(_valid()) + b"\x00" * EVENT_MAX_BYTES)
    assert isinstance(result, DeadLetter)
    assert str(EVENT_MAX_BYTES) in result.reason


def _valid() -> Event:
    return Event(event_id_for("r1"), "r1", 1, "Random", 10, 7, "kafka", "gw", 1_700_000_000_000, 1)
