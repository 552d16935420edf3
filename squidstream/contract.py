"""The event contract: every limit on a request and a GameEvent, defined once.

The ingress, the gateways and the worker's decoder all check requests and events against
this module and nothing else, so whatever a gateway accepts, the worker accepts: the
request-id limit once differed between them (128 at the gateway, 64 in the decoder) and
accepted games were dead-lettered. Each check returns `Problem(field, reason)` or None and
never raises, so callers choose their own error type (gRPC status, HTTP 422, dead letter).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Final

# The games and the route names are part of the contract: re-exported for its callers.
from squidstream.games import GAME_IDS as GAME_IDS
from squidstream.games import GAMES as GAMES
from squidstream.games import GAMES_BY_ID, allowed_winners
from squidstream.proto import game_pb2
from squidstream.route_names import ROUTE_LIST as ROUTE_LIST
from squidstream.route_names import RouteName as RouteName

# Each route name is the proto enum value ROUTE_<NAME>: one missing there fails at import.
ROUTES: Final[dict[RouteName, game_pb2.Route.ValueType]] = {
    name: game_pb2.Route.Value(f"ROUTE_{name.upper()}") for name in ROUTE_LIST
}
ROUTE_NAMES: Final[dict[int, RouteName]] = {number: name for name, number in ROUTES.items()}
# The GameEvent fields in proto field-number order: what every store keeps of a game.
EVENT_FIELDS: Final[tuple[str, ...]] = tuple(
    field.name for field in game_pb2.GameEvent.DESCRIPTOR.fields
)
# The newest schema this code writes and reads; an older version would get a named upcaster.
SCHEMA_VERSION: Final = 1
# Fixed forever: event ids are uuid5(EVENT_NAMESPACE, request_id), so retries keep their id.
EVENT_NAMESPACE: Final = uuid.UUID("5b0f3c2e-9d7a-4f61-8a43-2f0c6e1d9b57")

# Characters (code points), as SQL VARCHAR(n) with utf8mb4 counts them.
REQUEST_ID_MAX_CHARS: Final = 128
GATEWAY_ID_MAX_CHARS: Final = 64
EVENT_ID_CHARS: Final = 36
# The largest player count any gateway may be configured with (SQUID_MAX_PLAYERS <= this).
PLAYERS_MAX: Final = 1_000_000
# When a game may have occurred: from 2020-01-01T00:00:00Z to the last millisecond that
# every store can hold as a date (Python, BSON and SQL datetimes end with year 9999).
OCCURRED_AT_MIN_MS: Final = 1_577_836_800_000
OCCURRED_AT_MAX_MS: Final = 253_402_300_799_999
# A valid event encodes to at most ~700 bytes (a 128-character request id of 4-byte code
# points); anything bigger on the topic or the queue is not one of ours.
EVENT_MAX_BYTES: Final = 1024
_GATEWAY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_GATEWAY_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]+")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a value breaks the contract: the field at fault and a sentence naming the limit."""

    field: str
    reason: str


def event_id_for(request_id: str) -> str:
    """The event id a request id always maps to."""
    return str(uuid.uuid5(EVENT_NAMESPACE, request_id))


def request_id_problem(request_id: str) -> Problem | None:
    """A request id is 1..128 printable characters, not only blanks."""
    if not request_id.strip():
        return Problem("request_id", "request_id is required and must not be blank")
    if len(request_id) > REQUEST_ID_MAX_CHARS:
        return Problem(
            "request_id",
            f"request_id has {len(request_id)} characters, at most {REQUEST_ID_MAX_CHARS}",
        )
    if not request_id.isprintable():
        return Problem("request_id", "request_id must not contain control or format characters")
    return None


def gateway_id_problem(gateway_id: str) -> Problem | None:
    """A gateway id is 1..64 characters of letters, digits and `._:-`, starting alphanumeric."""
    if len(gateway_id) > GATEWAY_ID_MAX_CHARS:
        return Problem(
            "gateway_id",
            f"gateway_id has {len(gateway_id)} characters, at most {GATEWAY_ID_MAX_CHARS}",
        )
    if not _GATEWAY_ID.fullmatch(gateway_id):
        return Problem(
            "gateway_id",
            f"gateway_id {gateway_id!r} must start with a letter or digit and use only "
            "letters, digits and . _ : -",
        )
    return None


def default_gateway_id(route: RouteName, host: str, pid: int) -> str:
    """`{route}-{host}-{pid}`, the host cleaned and shortened so the id always fits."""
    tail = f"-{pid}"
    room = GATEWAY_ID_MAX_CHARS - len(route) - 1 - len(tail)
    clean = _GATEWAY_ID_UNSAFE.sub("-", host).strip("-") or "host"
    return f"{route}-{clean[:room].rstrip('-.:_') or 'host'}{tail}"


def game_problem(game_id: int) -> Problem | None:
    if game_id not in GAMES:
        return Problem(
            "game_id", f"game_id must be one of {min(GAMES)}..{max(GAMES)}, got {game_id}"
        )
    return None


def players_problem(players: int, max_players: int = PLAYERS_MAX) -> Problem | None:
    """Players are 1..max_players; max_players itself may not exceed PLAYERS_MAX."""
    limit = min(max_players, PLAYERS_MAX)
    if not 1 <= players <= limit:
        return Problem("players", f"players must be between 1 and {limit}, got {players}")
    return None


def winner_problem(game_id: int, players: int, winner: int) -> Problem | None:
    """The winner must be one the game's rule can pick (squidstream.games holds the rules)."""
    if not 1 <= winner <= players:
        return Problem("winner", f"winner {winner} is not a player of 1..{players}")
    if game_id not in GAMES_BY_ID:
        return None  # game_problem's to report
    allowed = allowed_winners(game_id, players)
    if winner in allowed:
        return None
    game = GAMES_BY_ID[game_id]
    if not game.drawn:
        return Problem("winner", f"{game.name} with {players} players is won by {allowed[0]}")
    # The drawn games' rules that can refuse a player are Even Game's and Odd Game's.
    return Problem("winner", f"{game.name} winner {winner} is {'odd' if winner % 2 else 'even'}")


def occurred_at_problem(occurred_at_ms: int) -> Problem | None:
    if not OCCURRED_AT_MIN_MS <= occurred_at_ms <= OCCURRED_AT_MAX_MS:
        return Problem(
            "occurred_at_ms",
            f"occurred_at_ms {occurred_at_ms} is outside "
            f"{OCCURRED_AT_MIN_MS}..{OCCURRED_AT_MAX_MS} (2020-01-01 to 9999-12-31 UTC)",
        )
    return None


def event_problem(event: game_pb2.GameEvent) -> Problem | None:
    """The first rule a decoded GameEvent breaks, or None: what the worker projects."""
    return (
        request_id_problem(event.request_id)
        or _event_id_problem(event)
        or game_problem(event.game_id)
        or _game_name_problem(event)
        or players_problem(event.players)
        or winner_problem(event.game_id, event.players, event.winner)
        or _route_problem(event.route)
        or gateway_id_problem(event.gateway_id)
        or occurred_at_problem(event.occurred_at_ms)
        or _schema_problem(event.schema_version)
    )


def encoded_problem(raw: bytes | None) -> Problem | None:
    """Size rules on the encoded bytes, checked before parsing."""
    if not raw:
        return Problem("event", "empty record")
    if len(raw) > EVENT_MAX_BYTES:
        return Problem("event", f"record is {len(raw)} bytes, at most {EVENT_MAX_BYTES}")
    return None


def _event_id_problem(event: game_pb2.GameEvent) -> Problem | None:
    if event.event_id != event_id_for(event.request_id):
        return Problem("event_id", "event_id is not the uuid5 of request_id")
    return None


def _game_name_problem(event: game_pb2.GameEvent) -> Problem | None:
    if event.game_name != GAMES[event.game_id]:
        return Problem("game_name", f"game {event.game_id} is named {GAMES[event.game_id]!r}")
    return None


def _route_problem(route: int) -> Problem | None:
    if route not in ROUTE_NAMES:
        return Problem("route", f"route {route} is neither kafka (1) nor rabbitmq (2)")
    return None


def _schema_problem(version: int) -> Problem | None:
    if not 1 <= version <= SCHEMA_VERSION:
        return Problem("schema_version", f"schema_version {version} is not 1..{SCHEMA_VERSION}")
    return None
