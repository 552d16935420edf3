"""Turn a PlayRequest into its one immutable GameEvent, or an error naming the bad field.

Pure: no broker, no clock of its own (the caller passes the time), no I/O. Every limit comes
from `squidstream.contract`, the same module the worker's decoder checks events with, so
whatever passes here passes there.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateways.errors import InvalidRequest
from gateways.rules import game_name, pick_winner, rng_for
from squidstream.contract import (
    EVENT_FIELDS,
    ROUTE_NAMES,
    ROUTES,
    SCHEMA_VERSION,
    Problem,
    RouteName,
    event_id_for,
    game_problem,
    players_problem,
    request_id_problem,
)
from squidstream.proto import game_pb2


@dataclass(frozen=True, slots=True)
class ValidRequest:
    """The checked fields of a PlayRequest."""

    request_id: str
    game_id: int
    players: int


@dataclass(frozen=True, slots=True)
class Encoded:
    """An event as it travels: its id (the broker's key) and its exact protobuf bytes.

    Emitters publish these bytes as they are, so a reservation taken over from a dead
    gateway is re-published byte for byte.
    """

    event_id: str
    raw: bytes

    @classmethod
    def of(cls, event: game_pb2.GameEvent) -> Encoded:
        return cls(event.event_id, event.SerializeToString())


def route_name(route: game_pb2.Route.ValueType) -> RouteName:
    """ "kafka" or "rabbitmq" for a Route enum value; ValueError for anything else."""
    try:
        return ROUTE_NAMES[route]
    except KeyError:
        raise ValueError(f"unknown route {route}") from None


def refuse(problem: Problem | None) -> None:
    """Raise the contract's problem as an InvalidRequest naming its field."""
    if problem is not None:
        raise InvalidRequest(problem.field, problem.reason)


def validate(request: game_pb2.PlayRequest, max_players: int) -> ValidRequest:
    """Check every field of a request; InvalidRequest names the first bad one."""
    refuse(request_id_problem(request.request_id))
    if not request.HasField("game_id"):
        raise InvalidRequest("game_id", "game_id is required")
    if not request.HasField("players"):
        raise InvalidRequest("players", "players is required")
    refuse(game_problem(request.game_id))
    refuse(players_problem(request.players, max_players))
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
    fields: dict[str, str | int] = {name: getattr(event, name) for name in EVENT_FIELDS}
    fields["route"] = route_name(event.route)
    return fields
