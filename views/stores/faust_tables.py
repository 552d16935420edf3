"""Faust table values, asked of the workers that own each partition, each partition once.

Who owns what comes from the workers' own announcements (views/stores/worker_registry.py).
A worker's answer is summed over the partitions it owns and says which ones they are, so the
reader can check that every partition of the events topic is counted exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from squidstream.topics import WORKERS_ANNOUNCE_TTL_S
from squidstream.worker_pages import TABLES_PATH
from views.errors import StoreUnavailable
from views.models import (
    ContestedPartition,
    CounterTable,
    Coverage,
    FaustTables,
    Freshness,
    PlayerWins,
    TableKey,
    WorkerStatus,
    now_ms,
)
from views.stores.base import TOP_PLAYERS
from views.stores.worker_registry import Plan, WorkerRegistry, plan

TABLE_NAMES = (*(t.value for t in CounterTable), "route_rate_minute", "route_rate_live")
Answer = tuple[WorkerStatus, dict[str, Any] | None]


def merge_tables(left: Any, right: Any) -> Any:
    """Sum numbers at the same path of two JSON values, join lists; keep the left otherwise.

    Each worker serves only the keys of the partitions it owns, so summing per path over
    answers that cover disjoint partitions gives the whole table.
    """
    if isinstance(left, dict) and isinstance(right, dict):
        merged = dict(left)
        for key, value in right.items():
            merged[key] = merge_tables(merged[key], value) if key in merged else value
        return merged
    if _is_number(left) and _is_number(right):
        return left + right
    if isinstance(left, list) and isinstance(right, list):
        return left + right
    return left


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def count_once(
    answers: list[Answer], chosen: Plan, partitions: int
) -> tuple[list[Answer], Coverage]:
    """Keep answers whose partitions no newer-announced answer covers; say what is missing.

    An answer is one sum over several partitions and cannot be split, so an answer that
    overlaps a newer worker's (both still owned a partition mid-rebalance) is left out whole.
    """
    newest_first = sorted(answers, key=lambda a: -(a[0].announced_at_ms or 0))
    seen: set[int] = set()
    dropped: set[int] = set()
    kept: list[Answer] = []
    for status, body in newest_first:
        if body is None:
            continue
        covered = set(status.partitions)
        if covered & seen:
            dropped |= covered & seen
            status.ok, status.error = False, "overlaps a newer worker's partitions: left out"
            continue
        seen |= covered
        kept.append((status, body))
    coverage = Coverage(
        complete=len(seen) == partitions and not dropped,
        partitions=partitions,
        missing=[p for p in range(partitions) if p not in seen],
        dropped=sorted(dropped),
        contested=[
            ContestedPartition(partition=c.partition, chosen=c.chosen, over=list(c.over))
            for c in chosen.contested
        ],
    )
    return kept, coverage


def top_players(wins: Mapping[str, int]) -> list[PlayerWins]:
    """Most wins first; ties go to the lower player number, as in the SQL and Redis reports."""
    ranked = sorted(((int(p), int(w)) for p, w in wins.items() if w), key=lambda x: (-x[1], x[0]))
    return [PlayerWins(player=p, wins=w) for p, w in ranked[:TOP_PLAYERS]]


def newest_event_ms(merged: Mapping[str, Any]) -> int | None:
    """Start of the newest live window: the newest counted game occurred at most 2 s after."""
    starts = [
        int(start)
        for windows in (merged.get("route_rate_live") or {}).values()
        for start in windows
    ]
    return max(starts) * 1000 if starts else None


class FaustTablesReader:
    """Asks the owners the registry names; a silent worker is reported, not fatal."""

    store = "faust"

    def __init__(
        self,
        client: httpx.AsyncClient,
        registry: WorkerRegistry,
        partitions: int,
        topic: str,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._client = client
        self._registry = registry
        self._partitions = partitions
        self._topic = topic
        self._clock = clock

    def plan(self) -> Plan:
        """The owners to ask now; 503 when no worker has announced itself lately."""
        chosen = plan(self._registry.fresh(self._clock()), self._partitions)
        if not chosen.owners:
            reading = "" if self._registry.caught_up else " (still reading the topic)"
            raise StoreUnavailable(
                self.store,
                f"no worker announced itself on {self._topic} in the last"
                f" {WORKERS_ANNOUNCE_TTL_S:.0f} s{reading}",
            )
        return chosen

    async def _fetch(self, url: str, path: str, chosen: Plan) -> Answer:
        status = WorkerStatus(
            url=url,
            ok=False,
            assigned=sorted(chosen.owners[url]),
            announced_at_ms=chosen.announced_at_ms.get(url),
        )
        try:
            response = await self._client.get(url + path)
            response.raise_for_status()
            body = response.json()
            status.partitions = sorted(int(p) for p in body["partitions"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            status.error = repr(exc)
            return status, None
        status.ok = True
        return status, body

    async def _ask(self, path: str) -> tuple[list[Answer], Coverage]:
        chosen = self.plan()
        answers = list(
            await asyncio.gather(*(self._fetch(url, path, chosen) for url in chosen.owners))
        )
        if all(body is None for _, body in answers):
            errors = "; ".join(f"{s.url}: {s.error}" for s, _ in answers)
            raise StoreUnavailable(self.store, f"no worker answered: {errors}")
        _, coverage = count_once(answers, chosen, self._partitions)
        return answers, coverage

    async def tables(self) -> FaustTables:
        """Every table, summed over answers covering disjoint partitions."""
        answers, coverage = await self._ask(TABLES_PATH)
        merged: dict[str, Any] = {name: {} for name in TABLE_NAMES}
        projected: list[int] = []
        for status, body in answers:
            if body is None or not status.ok:
                continue
            merged = merge_tables(merged, {k: v for k, v in body.items() if k in TABLE_NAMES})
            reported = (body.get("worker") or {}).get("projected_at_ms")
            if isinstance(reported, int):
                projected.append(reported)
        # Workers that report their projection time give freshness; otherwise the newest
        # event the live window counted (a lower bound of the projection time).
        projected_at = max(projected) if projected else newest_event_ms(merged)
        return FaustTables(
            store=self.store,
            freshness=Freshness.at(projected_at),
            tables=merged,
            top_players=top_players(merged["player_wins"]),
            events=sum(int(v) for v in merged["route_counts"].values()),
            coverage=coverage,
            workers=[status for status, _ in answers],
        )

    async def key(self, table: CounterTable, key: str) -> TableKey:
        """One key, from each partition's owner.

        Events are partitioned by event id, so any partition may hold any player's wins
        (keys are `"{partition}:{key}"`): the key's partitions are all of them, and each
        owner answers for the ones it owns, the way Faust's table_route sends a key's query
        to the owner of its partition.
        """
        answers, coverage = await self._ask(f"{TABLES_PATH}{table.value}/{quote(key, safe='')}/")
        values = {
            status.url: int(body.get("value", 0))
            for status, body in answers
            if body is not None and status.ok
        }
        return TableKey(
            store=self.store,
            freshness=Freshness.at(None),
            table=table,
            key=key,
            value=sum(values.values()),
            coverage=coverage,
            workers=[status for status, _ in answers],
            values=values,
        )
