"""The benchmarks' goals, defined once: `bench streams` and `bench report` check against these
(with `--check`, a miss exits 1). They are goals we hold ourselves to, measured and printed;
no test times them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BenchGoals:
    """Each goal's threshold; `GOALS` is the one instance."""

    # End to end: a probe game visible in every store within p99 ms, at this offered rate.
    freshness_rate: int = 1_000
    freshness_p99_ms: float = 250.0
    # Ingest: the Kafka route's accepted rate over the RabbitMQ route's, confirms on both.
    route_ratio: float = 3.0
    # Reads at read_size projected events, one request in flight.
    read_size: int = 1_000_000
    redis_p99_ms: float = 1.0
    sql_p99_ms: float = 20.0
    # Drain: events/s of one worker, and its share of the slowest store's batched rate
    # alone (a worker cannot drain faster than its slowest store writes).
    drain_floor: float = 20_000.0
    drain_of_slowest: float = 0.8

    def drain_met(self, ours: float, slowest_store: float | None) -> bool:
        """Both drain goals: the floor, and the share of the slowest store (when measured)."""
        share_met = slowest_store is None or ours >= self.drain_of_slowest * slowest_store
        return ours >= self.drain_floor and share_met


GOALS = BenchGoals()
