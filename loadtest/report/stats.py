"""Latency summaries and rates: the arithmetic every section of the report shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from squidstream.percentiles import percentile


@dataclass(frozen=True, slots=True)
class Latency:
    """p50/p95/p99 in milliseconds over `samples` observations."""

    samples: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> Latency | None:
        if not samples_ms:
            return None
        return cls(
            samples=len(samples_ms),
            p50_ms=round(percentile(samples_ms, 50), 3),
            p95_ms=round(percentile(samples_ms, 95), 3),
            p99_ms=round(percentile(samples_ms, 99), 3),
        )


def rate(count: int, seconds: float) -> float:
    """Per-second rate; zero for an empty interval rather than a division error."""
    return count / seconds if seconds > 0 else 0.0


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator was not measured."""
    return numerator / denominator if denominator > 0 else None
