"""Prometheus metrics of one app: request counts and latencies, projection lag per store.

Names follow the Prometheus conventions (base units, `_total` for counters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from squidstream.http_metrics import RequestMetrics


class _Reading:
    """The last value read from one store, in the unit the live feed reads it in."""

    def __init__(self, readings: dict[str, float], store: str) -> None:
        self._readings, self._store = readings, store

    def set(self, value: float) -> None:
        self._readings[self._store] = float(value)


class StoreReadings:
    """Per-store values the live feed reads from the stores and exports as they were read.

    The feed calls `.labels(store).set(value)` (as on a gauge), but a store's event count is
    a cumulative count, so it must be exported as a counter, which prometheus_client's Counter
    cannot be set to; and lag is read in milliseconds but exported in seconds.
    """

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def labels(self, store: str) -> _Reading:
        return _Reading(self.values, store)


class _ReadingsCollector(Collector):
    def __init__(
        self, events: StoreReadings, lag_ms: StoreReadings, audit_pages: Counter[str]
    ) -> None:
        self._events, self._lag_ms, self._audit_pages = events, lag_ms, audit_pages

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        events = CounterMetricFamily(
            "squid_views_projected_events",
            "Events each store's projection holds, as the views last read them.",
            labels=["store"],
        )
        for store, value in sorted(self._events.values.items()):
            events.add_metric([store], value)
        lag = GaugeMetricFamily(
            "squid_views_projection_lag_seconds",
            "Now minus the projection time of the newest data, per store.",
            labels=["store"],
        )
        for store, value in sorted(self._lag_ms.values.items()):
            lag.add_metric([store], value / 1000)
        pages = CounterMetricFamily(
            "squid_views_audit_pages",
            "Audit log pages answered, by where from: the tracking documents' lists alone"
            " (recent), with sealed chunks (chunks), or a query of the collection (collection;"
            " a scan on FerretDB).",
            labels=["source"],
        )
        for source, count in sorted(self._audit_pages.items()):
            pages.add_metric([source], count)
        yield events
        yield lag
        yield pages


class Metrics(RequestMetrics):
    """A registry per app, so two apps in one process (as in tests) never share counters."""

    def __init__(self) -> None:
        super().__init__("squid_views")
        # Set by the live feed in milliseconds; exported in seconds.
        self.projection_lag = StoreReadings()
        self.events = StoreReadings()
        # The Mongo reader counts its pages here (MongoReports.served is this Counter).
        self.audit_pages: Counter[str] = Counter()
        self.registry.register(
            _ReadingsCollector(self.events, self.projection_lag, self.audit_pages)
        )
        self.live_subscribers = Gauge(
            "squid_views_live_subscribers",
            "Browsers connected to the live stream.",
            registry=self.registry,
        )
