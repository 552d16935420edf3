"""Prometheus metrics of a worker: Faust's own monitor plus the projection's, on `/metrics`.

Names follow the Prometheus conventions (base units, `_total` for counters). Each app gets a
registry of its own, so a second app in one process (tests) never collides; the process-wide
registry is served too, for counters that live at module level (dead letters).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import faust
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streams.projection.pipeline import LaneState


class LagCollector(Collector):
    """Consumer lag per partition, read at scrape time: end offset minus acknowledged."""

    def __init__(self, lags: Callable[[], Iterable[tuple[int, int]]]) -> None:
        self._lags = lags

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "squid_consumer_lag_records",
            "Records of the events topic not yet projected and acknowledged, per partition.",
            labels=["partition"],
        )
        for partition, lag in self._lags():
            family.add_metric([str(partition)], lag)
        yield family


class LaneCollector(Collector):
    """Each store lane's counters and lag, read from the running pipeline at scrape time."""

    def __init__(
        self,
        lanes: Callable[[], Iterable[tuple[str, LaneState]]],
        ends: Callable[[], dict[int, int]],
    ) -> None:
        self._lanes = lanes
        self._ends = ends

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        help_ = {
            "writes": "Batch writes applied by each store.",
            "events": "Events written by each store (canonical copies).",
            "retries": "Transient failures of each store, each retried.",
            "poison": "Events a store refused, dead-lettered.",
        }
        families = {
            name: CounterMetricFamily(f"squid_store_{name}", text, labels=["store"])
            for name, text in help_.items()
        }
        busy = CounterMetricFamily(
            "squid_store_busy_seconds", "Time each store spent writing.", labels=["store"]
        )
        lag = GaugeMetricFamily(
            "squid_store_lag_records",
            "Records of the events topic a store does not hold yet, per owned partition.",
            labels=["store", "partition"],
        )
        ends = self._ends()
        for store, state in self._lanes():
            for name, family in families.items():
                family.add_metric([store], getattr(state, name))
            busy.add_metric([store], state.busy_s)
            for partition, end in sorted(ends.items()):
                if partition in state.applied:  # unknown until the store's first batch
                    behind = max(0, end - state.applied[partition])
                    lag.add_metric([store, str(partition)], behind)
        yield from families.values()
        yield busy
        yield lag


class WorkerMetrics:
    """The registry of one worker app and the projection's own instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.projected = Counter(
            "squid_projected_events",
            "Canonical events projected into every store and table.",
            registry=self.registry,
        )
        self.skipped = Counter(
            "squid_log_gap_records",
            "Records read from the events log because a batch began or jumped past the "
            "tables' position (records the consumer skipped).",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "squid_batch_seconds",
            "From a batch's fetch to its acknowledgement, once every store and table holds it.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )

    def watch(
        self,
        lags: Callable[[], Iterable[tuple[int, int]]],
        lanes: Callable[[], Iterable[tuple[str, LaneState]]],
        ends: Callable[[], dict[int, int]],
    ) -> None:
        self.registry.register(LagCollector(lags))
        self.registry.register(LaneCollector(lanes, ends))

    def install(self, app: faust.App) -> None:
        """Faust's Prometheus monitor on this registry, and the `/metrics` page."""
        from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor

        app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(self.registry, "faust"))
        registry = self.registry

        @app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            body = generate_latest(registry) + generate_latest(REGISTRY)
            return web.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})
