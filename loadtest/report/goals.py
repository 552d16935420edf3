"""The goals of issue 12, checked against one run's numbers; `--check` fails on any miss."""

from __future__ import annotations

from dataclasses import dataclass

from loadtest.report.results import Results
from squidstream.bench_goals import DRAIN, FRESHNESS, READS, ROUTE_RATIO

RESULT_REPORTS = ("last 10 games", "top 10 players", "player stats")


@dataclass(frozen=True, slots=True)
class Goal:
    name: str
    target: str
    measured: str
    met: bool


def best_stream_rate(results: Results, route: str) -> float:
    rates = [p.events_per_s for p in results.ingest if p.route == route and p.mode != "unary"]
    return max(rates, default=0.0)


def _freshness(results: Results) -> Goal:
    target = f"p99 < {FRESHNESS.p99_ms:.0f} ms in every store at {FRESHNESS.rate:,} events/s"
    points = [p for p in results.freshness if p.offered_per_s == FRESHNESS.rate]
    if not points:
        return Goal("freshness", target, f"not measured at {FRESHNESS.rate:,}/s", False)
    worst = [
        (p.route, store, latency.p99_ms if latency else None)
        for p in points
        for store, latency in p.visible.items()
    ]
    unknown = [f"{r}/{s}" for r, s, p99 in worst if p99 is None]
    if unknown:
        return Goal("freshness", target, "no probe visible in " + ", ".join(unknown), False)
    route, store, p99 = max(worst, key=lambda w: w[2] or 0.0)
    return Goal(
        "freshness",
        target,
        f"worst p99 {p99:,.0f} ms ({route} route, {store})",
        bool(p99 is not None and p99 < FRESHNESS.p99_ms),
    )


def _routes(results: Results) -> Goal:
    target = f"Kafka route >= {ROUTE_RATIO:.0f}x the RabbitMQ route's accepted events/s"
    kafka, rabbit = best_stream_rate(results, "kafka"), best_stream_rate(results, "rabbitmq")
    if not kafka or not rabbit:
        return Goal("routes", target, "not measured", False)
    ratio = kafka / rabbit
    measured = f"{kafka:,.0f} vs {rabbit:,.0f} events/s on PlayStream = {ratio:.1f}x"
    return Goal("routes", target, measured, ratio >= ROUTE_RATIO)


def _reads(results: Results, store: str, limit_ms: float) -> Goal:
    """The worst p99 at the largest size: the result reports on Redis and SQL, every audit
    read on MongoDB."""
    what = "audit reads" if store == "mongo" else "result reports"
    target = f"{store} {what} p99 < {limit_ms:g} ms at {READS.size:,} events"
    mine = [
        p
        for p in results.reads
        if p.store == store and (store == "mongo" or p.report in RESULT_REPORTS)
    ]
    if not mine:
        return Goal(f"{store} reads", target, "not measured", False)
    size = max(p.events for p in mine)
    at_size = [p for p in mine if p.events == size and p.latency is not None]
    if not at_size:
        return Goal(f"{store} reads", target, f"no successful reads at {size:,}", False)
    worst = max(at_size, key=lambda p: p.latency.p99_ms if p.latency else 0.0)
    p99 = worst.latency.p99_ms if worst.latency else 0.0
    note = "" if size >= READS.size else f" (largest size measured: {size:,}, not {READS.size:,})"
    measured = f"worst p99 {p99:.2f} ms ({worst.report}) at {size:,} events{note}"
    return Goal(f"{store} reads", target, measured, size >= READS.size and p99 < limit_ms)


def _drain(results: Results) -> Goal:
    target = (
        f"drain >= {DRAIN.floor:,.0f} events/s and >= {DRAIN.of_slowest} of the"
        " slowest store's batched rate alone"
    )
    drain = results.drain
    if drain is None or drain.ours is None:
        return Goal("drain", target, "not measured", False)
    slowest = drain.slowest_store
    if slowest is None:
        return Goal("drain", target, f"{drain.ours:,.0f} events/s; no store rates", False)
    share = drain.ours / slowest[1]
    measured = (
        f"{drain.ours:,.0f} events/s = {share:.2f} of {slowest[0]} alone ({slowest[1]:,.0f}/s)"
    )
    return Goal("drain", target, measured, DRAIN.met(drain.ours, slowest[1]))


def _replay(results: Results) -> Goal:
    target = "replay events/s >= drain events/s"
    drain = results.drain.ours if results.drain else None
    if not results.replay or drain is None:
        return Goal("replay", target, "not measured", False)
    largest = max(results.replay, key=lambda r: r.events)
    measured = f"{largest.events_per_s:,.0f} events/s at {largest.events:,} vs drain {drain:,.0f}"
    return Goal("replay", target, measured, largest.events_per_s >= drain)


def check_goals(results: Results) -> list[Goal]:
    return [
        _freshness(results),
        _routes(results),
        _reads(results, "redis", READS.redis_p99_ms),
        _reads(results, "sql", READS.sql_p99_ms),
        _reads(results, "mongo", READS.audit_p99_ms),
        _drain(results),
        _replay(results),
    ]


def missed(goals: list[Goal]) -> list[Goal]:
    return [goal for goal in goals if not goal.met]
