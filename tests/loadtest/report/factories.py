"""Results of a made-up run, for tests of the parts of the report that only read numbers."""

from __future__ import annotations

from dataclasses import replace

from loadtest.report.drain import Drain
from loadtest.report.freshness import FreshnessPoint
from loadtest.report.ingest import IngestPoint
from loadtest.report.java_clients import BrokerCeiling
from loadtest.report.machine import Machine
from loadtest.report.reads import ReadPoint, ReplayPoint
from loadtest.report.results import Results
from loadtest.report.stats import Latency


def lat(p50: float, p99: float) -> Latency:
    return Latency(samples=100, p50_ms=p50, p95_ms=(p50 + p99) / 2, p99_ms=p99)


def ingest_point(route: str, mode: str, per_s: float, p99: float = 100.0) -> IngestPoint:
    return IngestPoint(route, mode, 4, int(per_s), 0, 1.0, per_s, lat(p99 / 2, p99))


def fresh(route: str, per_s: int, p99: dict[str, float], sustained: bool = True) -> FreshnessPoint:
    visible: dict[str, Latency | None] = {s: lat(ms / 2, ms) for s, ms in p99.items()}
    return FreshnessPoint(
        route, per_s, float(per_s), 3.0, 30, visible, dict.fromkeys(p99, 0), sustained
    )


def read(events: int, store: str, report: str, p50: float, p99: float) -> ReadPoint:
    return ReadPoint(events, store, report, 100, 0, 1000 / p50, lat(p50, p99))


def good_run() -> Results:
    """A run that meets every goal of issue 12."""
    results = Results(
        started_at="2026-12-01T10:00:00+00:00",
        quick=False,
        machine=Machine(2, 23.6, "Linux", "3.11", (0.5, 0.4, 0.3), (1.0, 0.8, 0.5)),
    )
    results.ingest = [
        ingest_point("kafka", "unary", 3000),
        ingest_point("kafka", "stream/1000", 40000, 180),
        ingest_point("rabbitmq", "unary", 1800),
        ingest_point("rabbitmq", "stream/1000", 10000, 700),
    ]
    results.ceilings = [
        BrokerCeiling("kafka", "java", 1000, 80000, 5, 9, 12),
        BrokerCeiling("rabbitmq", "java", 1000, 20000, 5, 9, 12),
    ]
    results.freshness = [
        fresh(route, rate, {"redis": 90.0, "sql": 120.0, "mongo": 200.0})
        for route in ("kafka", "rabbitmq")
        for rate in (250, 1000)
    ]
    results.drain = Drain(
        200_000,
        {"bare aiokafka consumer": 400_000, "our worker (faust app, 3 projections)": 25_000},
        {"sql": 45_000, "redis": 66_000, "mongo": 30_000},
    )
    results.reads = [
        read(size, store, report, p50, p99)
        for size in (10_000, 1_000_000)
        for report in ("last 10 games", "top 10 players", "player stats")
        for store, p50, p99 in (("redis", 0.3, 0.8), ("sql", 0.5, 4.0))
    ] + [
        read(size, "mongo", report, 12.0, 40.0)
        for size in (10_000, 1_000_000)
        for report in ("audit log, first page", "audit log, middle of its span")
    ]
    results.replay = [ReplayPoint(1_000_000, 30.0, 33_333.3)]
    return results


def with_drain(results: Results, ours: float) -> Results:
    assert results.drain is not None
    rates = {**results.drain.rates, "our worker (faust app, 3 projections)": ours}
    return replace(results, drain=replace(results.drain, rates=rates))
