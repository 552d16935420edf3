"""Turn a PlayRequest into its one immutable GameEvent, or an error naming the bad field.

Pure: no broker, no clock of its own (the caller passes the time), no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final, Literal

from gateways.errors import InvalidRequest
from gateways.rules import game_name, pick_winner, rng_for
from proto import game_pb2

SCHEMA_VERSION: Final = 1
# Fixed forever: event ids are uuid5(EVENT_NAMESPACE, request_id), so retries keep their id.
EVENT_NAMESPACE: Final = uuid.UUID("5b0f3c2e-9d7a-4f61-8a43-2f0c6e1d9b57")
MAX_REQUEST_ID_CHARS: Final = 128

RouteName = Literal["kafka", "rabbitmq"]
ROUTES: Final[dict[RouteName, game_pb2.Route.ValueType]] = {
    "kafka": game_pb2.ROUTE_KAFKA,
    "rabbitmq": game_pb2.ROUTE_RABBITMQ,
}


@dataclass(frozen=True, slots=True)
class ValidRequest:
    """The checked fields of a PlayRequest."""

    request_id: str
    game_id: int
    players: int


def event_id_for(request_id: str) -> str:
    """The event id a request id always maps to."""
    return str(uuid.uuid5(EVENT_NAMESPACE, request_id))


def route_name(route: game_pb2.Route.ValueType) -> RouteName:
    """ "kafka" or "rabbitmq" for a Route enum value; ValueError for anything else."""
    for name, value in ROUTES.items():
        if value == route:
            return name
    raise ValueError(f"unknown route {route}")


def _check_request_id(request_id: str) -> None:
    if not request_id.strip():
        raise InvalidRequest("request_id", "request_id is required and must not be blank")
    if len(request_id) > MAX_REQUEST_ID_CHARS:
        raise InvalidRequest(
            "request_id",
            f"request_id has {len(request_id)} characters, at most {MAX_REQUEST_ID_CHARS}",
        )


def validate(request: game_pb2.PlayRequest, max_players: int) -> ValidRequest:
    """Check every field of a request; InvalidRequest names the first bad one."""
    _check_request_id(request.request_id)
    if not request.HasField("game_id"):
        raise InvalidRequest("game_id", "game_id is required")
    if not request.HasField("players"):
        raise InvalidRequest("players", "players is required")
    game_name(request.game_id)
    if not 1 <= request.players <= max_players:
        raise InvalidRequest(
            "players", f"players must be between 1 and {max_players}, got {request.players}"
        )
    return ValidRequest(request.request_id, request.game_id, request.players)


def play(
    request: ValidRequest, *, route: RouteName, gateway_id: str, occurred_at_ms: int
) -> game_pb2.GameEvent:
    """Play the game once and describe the outcome as an event."""
    winner = pick_winner(request.game_id, request.players, rng_for(request.request_id))
    return game_pb2.GameEvent(
        event_id=event_id_for(request.request_id),
        request_id=request.request_id,
        game_id=request.game_id,
        game_name=game_name(request.game_id),
        players=request.players,
        winner=winner,
        route=ROUTES[route],
        gateway_id=gateway_id,
        occurred_at_ms=occurred_at_ms,
        schema_version=SCHEMA_VERSION,
    )


def event_as_dict(event: game_pb2.GameEvent) -> dict[str, str | int]:
    """The event as plain JSON-ready fields, the route by name."""
    return {
        "event_id": event.event_id,
        "request_id": event.request_id,
        "game_id": event.game_id,
        "game_name": event.game_name,
        "players": event.players,
        "winner": event.winner,
        "route": route_name(event.route),
        "gateway_id": event.gateway_id,
        "occurred_at_ms": event.occurred_at_ms,
        "schema_version": event.schema_version,
    }
