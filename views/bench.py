"""`squidstream bench reports`: Redis against SQL serving the same three result reports.

Runs each report many times, a fixed number in flight, through the same store adapters the
read API uses, on whatever the stores hold now (run a flood or `squidstream run` first), and
prints reports/s and p50/p99 latency per store and report, all in one run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from squidstream.bench_goals import READS
from squidstream.percentiles import percentile
from squidstream.settings import Settings
from views.resources import open_resources
from views.stores.base import ResultReports


@dataclass(frozen=True)
class ReportTiming:
    store: str
    report: str
    calls: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds

    def percentile(self, q: int) -> float:
        return percentile(self.latencies_ms, q)


async def _time_calls(
    call: Callable[[int], Awaitable[object]], calls: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            started = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return time.perf_counter() - started, latencies


def _report_calls(
    reports: ResultReports, players: list[int]
) -> dict[str, Callable[[int], Awaitable[object]]]:
    return {
        "last 10 games": lambda i: reports.last_games(),
        "top 10 players": lambda i: reports.top_players(),
        "player stats": lambda i: reports.player_stats(players[i % len(players)]),
    }


async def measure(
    settings: Settings, calls: int, concurrency: int
) -> tuple[int, list[ReportTiming]]:
    """Events in the stores, and one timing per (store, report)."""
    resources = await open_resources(settings)
    try:
        events = await resources.redis_reports.events()
        top = await resources.sql_reports.top_players()
        players = [entry.player for entry in top.players] or [1]
        timings = []
        for reports in (resources.redis_reports, resources.sql_reports):
            for name, call in _report_calls(reports, players).items():
                await call(0)  # warm the connection pool and the server's caches alike
                seconds, latencies = await _time_calls(call, calls, concurrency)
                timings.append(ReportTiming(reports.store, name, calls, seconds, latencies))
        return events, timings
    finally:
        await resources.close()


def print_timings(events: int, timings: list[ReportTiming], concurrency: int) -> bool:
    """Print the table, the Redis/SQL ratios and the read goals; True when both are met."""
    print(f"stores hold {events:,} events; {concurrency} reports in flight")
    print(f"{'store':<6} {'report':<15} {'calls':>6} {'reports/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for t in timings:
        print(
            f"{t.store:<6} {t.report:<15} {t.calls:>6} {t.per_second:>10,.0f}"
            f" {t.percentile(50):>8.2f} {t.percentile(99):>8.2f}"
        )
    by_key = {(t.store, t.report): t for t in timings}
    for report in dict.fromkeys(t.report for t in timings):
        redis, sql = by_key[("redis", report)], by_key[("sql", report)]
        print(f"redis / sql, {report}: {redis.per_second / sql.per_second:.2f}x reports/s")
    return reads_goals(events, timings)


def reads_goals(events: int, timings: list[ReportTiming]) -> bool:
    """Print each store's worst p99 against its goal; a smaller store than the goal's size
    is said, and counts as missed."""
    limits = {"redis": READS.redis_p99_ms, "sql": READS.sql_p99_ms}
    at_size = events >= READS.size
    met = []
    for store, limit in limits.items():
        worst = max((t.percentile(99) for t in timings if t.store == store), default=None)
        met.append(worst is not None and worst < limit and at_size)
        measured = "not measured" if worst is None else f"worst p99 {worst:.2f} ms"
        size = "" if at_size else f" (stores hold {events:,}, not {READS.size:,})"
        verdict = "met" if met[-1] else "MISSED"
        print(f"goal {store} reads (p99 < {limit:g} ms): {verdict}: {measured}{size}")
    return all(met)
