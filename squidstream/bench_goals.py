"""The benchmarks' goals, defined once: `bench streams|ingest|reports` and `bench report` all
check against these (with `--check`, a miss exits 1). They are goals we hold ourselves to,
measured and printed; no test times them.
"""

from __future__ import annotations

from typing import Final

# End to end: a probe game visible in every store within this, at this offered rate.
FRESHNESS_RATE: Final = 1_000
FRESHNESS_P99_MS: Final = 250.0
# Ingest: the Kafka route's accepted rate over the RabbitMQ route's, confirms on both.
ROUTE_RATIO: Final = 3.0
# Reads at READ_SIZE projected events, one request in flight.
READ_SIZE: Final = 1_000_000
REDIS_P99_MS: Final = 1.0
SQL_P99_MS: Final = 20.0
# Drain: events/s of one worker, and its share of the slowest store's batched rate alone
# (a worker cannot drain faster than its slowest store writes).
DRAIN_FLOOR: Final = 20_000.0
DRAIN_OF_SLOWEST: Final = 0.8


def drain_goal_met(ours: float, slowest_store: float | None) -> bool:
    """Both drain goals: the floor, and the share of the slowest store (when measured)."""
    share_met = slowest_store is None or ours >= DRAIN_OF_SLOWEST * slowest_store
    return ours >= DRAIN_FLOOR and share_met
