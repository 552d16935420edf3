"""Bytes from the wire -> a validated event, or the reason it is a dead letter (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from proto import game_pb2

GAME_NAMES = {1: "Random", 2: "Half Game", 3: "The Last One", 4: "Even Game", 5: "Odd Game"}
ROUTE_NAMES = {game_pb2.ROUTE_KAFKA: "kafka", game_pb2.ROUTE_RABBITMQ: "rabbitmq"}
# The newest schema this code understands; older versions would get a named upcaster.
SCHEMA_VERSION = 1
MAX_ID_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Event:
    """One validated game event, plus where it sat in the log."""

    event_id: str
    request_id: str
    game_id: int
    game_name: str
    players: int
    winner: int
    route: str
    gateway_id: str
    occurred_at_ms: int
    schema_version: int
    partition: int = -1
    offset: int = -1

    def game_fields(self) -> dict[str, Any]:
        """The game as every store keeps it: the GameEvent fields, without log coordinates."""
        return {
            "event_id": self.event_id,
            "request_id": self.request_id,
            "game_id": self.game_id,
            "game_name": self.game_name,
            "players": self.players,
            "winner": self.winner,
            "route": self.route,
            "gateway_id": self.gateway_id,
            "occurred_at_ms": self.occurred_at_ms,
            "schema_version": self.schema_version,
        }


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input that cannot be projected, with the reason; its bytes go to the dead-letter place."""

    reason: str
    raw: bytes
    partition: int = -1
    offset: int = -1


def decode(raw: bytes | None, partition: int = -1, offset: int = -1) -> Event | DeadLetter:
    """Parse and validate one GameEvent; never raises."""
    if not raw:
        return DeadLetter("empty record", raw or b"", partition, offset)
    message = game_pb2.GameEvent()
    try:
        message.ParseFromString(raw)
    except (DecodeError, ValueError) as exc:
        return DeadLetter(f"not a GameEvent: {exc}", raw, partition, offset)
    reason = invalid_reason(message)
    if reason:
        return DeadLetter(reason, raw, partition, offset)
    return Event(
        message.event_id,
        message.request_id,
        message.game_id,
        message.game_name,
        message.players,
        message.winner,
        ROUTE_NAMES[message.route],
        message.gateway_id,
        message.occurred_at_ms,
        message.schema_version,
        partition,
        offset,
    )


def invalid_reason(message: game_pb2.GameEvent) -> str:
    """The first rule the event breaks, or "" when it is valid."""
    if not message.event_id or len(message.event_id) > MAX_ID_LENGTH:
        return "event_id missing or longer than 64 characters"
    if len(message.request_id) > MAX_ID_LENGTH or len(message.gateway_id) > MAX_ID_LENGTH:
        return "request_id or gateway_id longer than 64 characters"
    if message.game_id not in GAME_NAMES:
        return f"game_id {message.game_id} not in 1..5"
    if message.players < 1:
        return f"players {message.players} < 1"
    if not 1 <= message.winner <= message.players:
        return f"winner {message.winner} not in 1..{message.players}"
    if message.route not in ROUTE_NAMES:
        return f"route {message.route} is neither kafka nor rabbitmq"
    if message.occurred_at_ms <= 0:
        return "occurred_at_ms missing"
    if not 1 <= message.schema_version <= SCHEMA_VERSION:
        return f"schema_version {message.schema_version} unknown"
    return ""


def encode(event: Event) -> bytes:
    """The GameEvent bytes of an event (tests, benchmarks and the bridge use it)."""
    route = {name: number for number, name in ROUTE_NAMES.items()}[event.route]
    return game_pb2.GameEvent(
        event_id=event.event_id,
        request_id=event.request_id,
        game_id=event.game_id,
        game_name=event.game_name,
        players=event.players,
        winner=event.winner,
        route=route,
        gateway_id=event.gateway_id,
        occurred_at_ms=event.occurred_at_ms,
        schema_version=event.schema_version,
    ).SerializeToString()
