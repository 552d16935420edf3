"""The benchmarks' goals, defined once: `bench streams` and `bench report` check against these
(with `--check`, a miss exits 1). They are goals we hold ourselves to, measured and printed;
no test times them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FreshnessGoal:
    """A probe game visible in every store within p99_ms, at `rate` offered events/s."""

    rate: int = 1_000
    p99_ms: float = 250.0


@dataclass(frozen=True, slots=True)
class ReadGoal:
    """Result reports' p99 per store, and every audit read's (deep and filtered log pages
    too), one request in flight, at `size` projected events."""

    size: int = 1_000_000
    redis_p99_ms: float = 1.0
    sql_p99_ms: float = 20.0
    audit_p99_ms: float = 100.0


@dataclass(frozen=True, slots=True)
class DrainGoal:
    """One worker's events/s: at least `floor`, and at least `of_slowest` of the slowest
    store's batched rate alone (a worker cannot drain faster than that store writes)."""

    floor: float = 20_000.0
    of_slowest: float = 0.8

    def met(self, ours: float, slowest_store: float | None) -> bool:
        share_met = slowest_store is None or ours >= self.of_slowest * slowest_store
        return ours >= self.floor and share_met


FRESHNESS = FreshnessGoal()
READS = ReadGoal()
DRAIN = DrainGoal()
# Ingest: the Kafka route's accepted rate over the RabbitMQ route's, confirms on both.
ROUTE_RATIO = 3.0
