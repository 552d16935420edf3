"""Bytes from the wire -> a validated event, or the reason it is a dead letter (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from squidstream.contract import GAMES, ROUTE_NAMES, ROUTES, encoded_problem, event_problem
from squidstream.proto import game_pb2

# Re-exported for the streams package; squidstream.contract owns them.
GAME_NAMES = GAMES


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
    """Parse one GameEvent and check it against the contract; never raises."""
    problem = encoded_problem(raw)
    if problem is not None or raw is None:
        return DeadLetter(
            problem.reason if problem else "empty record", raw or b"", partition, offset
        )
    message = game_pb2.GameEvent()
    try:
        message.ParseFromString(raw)
    except (DecodeError, ValueError) as exc:
        return DeadLetter(f"not a GameEvent: {exc}", raw, partition, offset)
    problem = event_problem(message)
    if problem is not None:
        return DeadLetter(f"{problem.field}: {problem.reason}", raw, partition, offset)
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


def encode(event: Event) -> bytes:
    """The GameEvent bytes of an event (tests, benchmarks and the bridge use it)."""
    route = ROUTES[event.route]  # type: ignore[index]  # Event.route is a RouteName
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
