"""Bytes from the wire -> a validated event, or the reason it is a dead letter (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from squidstream.contract import (
    EVENT_FIELDS,
    ROUTE_NAMES,
    ROUTES,
    encoded_problem,
    event_problem,
)
from squidstream.proto import game_pb2


@dataclass(frozen=True, slots=True)
class Event:
    """One validated game event, plus where it sat in the log.

    The first fields are the GameEvent's, named and ordered as `EVENT_FIELDS` (a test pins it).
    """

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
        return {name: getattr(self, name) for name in EVENT_FIELDS}


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
    fields = {name: getattr(message, name) for name in EVENT_FIELDS}
    fields["route"] = ROUTE_NAMES[message.route]
    return Event(**fields, partition=partition, offset=offset)


def encode(event: Event) -> bytes:
    """The GameEvent bytes of an event (tests, benchmarks and the bridge use it)."""
    fields = event.game_fields()
    fields["route"] = ROUTES[event.route]  # type: ignore[index]  # Event.route is a RouteName
    return game_pb2.GameEvent(**fields).SerializeToString()
