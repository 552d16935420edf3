"""Faust tables: stats per source partition, updated once per key per batch, served as JSON."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import faust

RATE_WINDOW_S = 60
RATE_EXPIRES = timedelta(hours=1)


@dataclass
class Tables:
    """The app's tables; keys are "{source partition}:{key}" so each worker owns its keys."""

    player_wins: faust.Table[str, int]
    game_sizes: faust.Table[str, int]
    game_counts: faust.Table[str, int]
    route_counts: faust.Table[str, int]
    route_rate: Any  # a tumbling WindowWrapper over a Table[str, int]

    @property
    def counters(self) -> dict[str, faust.Table[str, int]]:
        return {
            "player_wins": self.player_wins,
            "game_sizes": self.game_sizes,
            "game_counts": self.game_counts,
            "route_counts": self.route_counts,
        }


def define_tables(app: faust.App) -> Tables:
    """Declare the changelog-backed tables on the app."""

    def table(name: str, help_: str) -> faust.Table[str, int]:
        table = app.Table(name, default=int, key_type=str, value_type=int, help=help_)
        return cast("faust.Table[str, int]", table)

    rate = table("route_rate", "events per route per minute (stream time)")
    return Tables(
        player_wins=table("player_wins", "wins per player"),
        game_sizes=table("game_sizes", "games per number of players"),
        game_counts=table("game_counts", "games per game id"),
        route_counts=table("route_counts", "games per route"),
        route_rate=rate.tumbling(RATE_WINDOW_S, expires=RATE_EXPIRES).relative_to_stream(),
    )


DELTA_FIELDS = ("wins", "sizes", "games", "routes")


def valid_deltas(raw: object) -> dict[str, dict[str, int]] | None:
    """The JSON deltas record as the consumer writes it, or None when it is not of that shape.

    Checked before any table write, so that a malformed record is skipped whole: an error
    half-way through would leave part of it applied and crash the agent (and the worker).
    """
    try:
        value = json.loads(raw) if isinstance(raw, bytes | str) else None
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    deltas: dict[str, dict[str, int]] = {}
    for name in DELTA_FIELDS:
        counts = value.get(name, {})
        if not isinstance(counts, dict) or not all(
            isinstance(count, int) and not isinstance(count, bool) for count in counts.values()
        ):
            return None
        deltas[name] = {str(key): count for key, count in counts.items()}
    return deltas


def apply_deltas(tables: Tables, partition: int, deltas: Mapping[str, Any]) -> None:
    """Add one source partition's share of a batch: one write per key.

    Called inside the table agent, whose current event sits on `partition`, so Faust sends
    each write to that changelog partition and the windowed rate uses its timestamp.
    """
    _add(tables.player_wins, partition, deltas.get("wins", {}))
    _add(tables.game_sizes, partition, deltas.get("sizes", {}))
    _add(tables.game_counts, partition, deltas.get("games", {}))
    routes = deltas.get("routes", {})
    _add(tables.route_counts, partition, routes)
    for route, count in routes.items():
        tables.route_rate[f"{partition}:{route}"] += int(count)


def _add(table: faust.Table[str, int], partition: int, counts: Mapping[Any, int]) -> None:
    for key, count in counts.items():
        name = f"{partition}:{key}"
        table[name] = table[name] + int(count)


def snapshot(tables: Tables, partitions: set[int]) -> dict[str, Any]:
    """This worker's values for the partitions it owns, summed over partitions."""
    result: dict[str, Any] = {
        name: dict(_sum_owned(table.data.items(), partitions))
        for name, table in tables.counters.items()
    }
    rates: dict[str, dict[str, int]] = {}
    for (key, (start, _end)), value in tables.route_rate.table.data.items():
        partition, route = key.split(":", 1)
        if int(partition) in partitions:
            window = rates.setdefault(route, {})
            window[str(int(start))] = window.get(str(int(start)), 0) + value
    result["route_rate_per_minute"] = rates
    return result


def _sum_owned(items: Iterable[tuple[str, int]], partitions: set[int]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for key, value in items:
        partition, name = key.split(":", 1)
        if int(partition) in partitions:
            totals[name] += value
    return totals
