"""Response models of the read API: every response names its store and how fresh it is."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from squidstream.route_names import RouteName


def now_ms() -> int:
    """Wall-clock time as UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


class ReportStore(StrEnum):
    """The stores that hold the result reports, selectable per request."""

    redis = "redis"
    sql = "sql"


# The broker that carried an event into the log; squidstream.route_names owns the names.
Route: TypeAlias = RouteName


class Freshness(BaseModel):
    """When the answer was read and how far the projection lags behind it."""

    as_of_ms: int = Field(description="When the store was read (UTC epoch ms).")
    projected_at_ms: int | None = Field(
        None, description="Projection time of the newest data the store holds, if any."
    )
    lag_ms: int | None = Field(None, description="as_of_ms - projected_at_ms, if known.")

    @classmethod
    def at(cls, projected_at_ms: int | None, as_of_ms: int | None = None) -> Freshness:
        read_at = now_ms() if as_of_ms is None else as_of_ms
        lag = None if projected_at_ms is None else max(0, read_at - projected_at_ms)
        return cls(as_of_ms=read_at, projected_at_ms=projected_at_ms, lag_ms=lag)


class StoreAnswer(BaseModel):
    """Fields every response carries."""

    store: str = Field(description="Which store answered: redis, sql, mongo or faust.")
    freshness: Freshness


class Game(BaseModel):
    """One played game, as projected from its GameEvent."""

    model_config = ConfigDict(extra="ignore")

    event_id: str
    request_id: str = ""
    game_id: int
    game_name: str = ""
    players: int
    winner: int
    route: str
    gateway_id: str = ""
    occurred_at_ms: int
    schema_version: int = 1


class PlayerGame(Game):
    """A game seen from one player: did they win it."""

    won: bool


class PlayerWins(BaseModel):
    player: int
    wins: int


class LastGames(StoreAnswer):
    games: list[Game]


class TopPlayers(StoreAnswer):
    players: list[PlayerWins]


class PlayerStats(StoreAnswer):
    player: int
    played: int
    won: int
    lost: int
    recent: list[PlayerGame] = Field(description="The player's last 10 games, newest first.")


class AuditEntry(Game):
    """One audit-log document."""

    projected_at_ms: int | None = None
    kafka_partition: int | None = None
    kafka_offset: int | None = None


class AuditPage(StoreAnswer):
    """One page of the log, newest first; no total, which would mean counting the log."""

    page_size: int
    next: str | None = Field(
        None,
        description=(
            "Pass as `after` for the following page; null on the last page. A page may hold"
            " fewer entries than page_size (even none) and still have a `next`: a narrow filter"
            " searched as far as one page may read, and the next page goes on from there."
        ),
    )
    entries: list[AuditEntry]


class GameCount(BaseModel):
    game_id: int
    game_name: str
    games: int


class TopGames(StoreAnswer):
    games: list[GameCount]


class RouteCount(BaseModel):
    route: str
    inserts: int


class RouteCounts(StoreAnswer):
    routes: list[RouteCount]


class WorkerStatus(BaseModel):
    """One worker asked for a table answer: the partitions it summed, or why it failed."""

    url: str
    ok: bool
    error: str | None = None
    assigned: list[int] = Field(description="The partitions we asked it for (its announcement).")
    partitions: list[int] = Field(
        default_factory=list, description="The partitions its answer covers (counted here)."
    )
    announced_at_ms: int | None = None


class ContestedPartition(BaseModel):
    """Two fresh announcements claimed one partition (a rebalance): the newest was asked."""

    partition: int
    chosen: str
    over: list[str]


class Coverage(BaseModel):
    """Whether every partition of the events topic was counted exactly once."""

    complete: bool = Field(description="Every partition counted, none twice.")
    partitions: int = Field(description="Partitions of the events topic.")
    missing: list[int] = Field(description="Partitions no answer covered (yet).")
    dropped: list[int] = Field(
        default_factory=list,
        description="Partitions an older worker's answer also covered; that answer was left out.",
    )
    contested: list[ContestedPartition] = Field(default_factory=list)


class FaustTables(StoreAnswer):
    """Every table summed over its owners, each partition counted once."""

    tables: dict[str, Any] = Field(description="Each table's values summed per key.")
    top_players: list[PlayerWins] = Field(description="The 10 players with most wins.")
    events: int = Field(description="Games counted (the sum of route_counts).")
    coverage: Coverage
    workers: list[WorkerStatus]


class CounterTable(StrEnum):
    """The Faust tables one key of which can be asked for."""

    player_wins = "player_wins"
    game_sizes = "game_sizes"
    game_counts = "game_counts"
    route_counts = "route_counts"


class TableKey(StoreAnswer):
    """One key of one table, from the workers owning the partitions that may hold it."""

    table: CounterTable
    key: str
    value: int
    coverage: Coverage
    workers: list[WorkerStatus] = Field(
        description="Who answered for which partitions, and each one's value."
    )
    values: dict[str, int] = Field(description="Each answering worker's value, by URL.")


class StoreCheck(BaseModel):
    name: str
    ok: bool
    latency_ms: float
    error: str | None = None


class Readiness(BaseModel):
    ready: bool
    checks: list[StoreCheck]


class Health(BaseModel):
    status: str


class LiveSnapshot(BaseModel):
    """What the live stream pushes: cheap counters, read once a second."""

    as_of_ms: int
    events: dict[str, int | None] = Field(description="Events applied, per store.")
    routes: dict[str, int] = Field(description="Games per route, from Redis.")
    events_per_s: float = Field(description="Redis events applied per second, last interval.")
    lag_ms: dict[str, int | None] = Field(description="Projection lag per store.")


class ErrorBody(BaseModel):
    detail: str
    store: str | None = None
