"""Prometheus metrics of one app: request counts and latencies, projection lag per store.

Names follow the Prometheus conventions (base units, `_total` for counters).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
    def __init__(self, events: StoreReadings, lag_ms: StoreReadings) -> None:
        self._events, self._lag_ms = events, lag_ms

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
        yield events
        yield lag


class Metrics:
    """A registry per app, so two apps in one process (as in tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "squid_views_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "squid_views_request_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "path"],
            registry=self.registry,
        )
        # Set by the live feed in milliseconds; exported in seconds.
        self.projection_lag = StoreReadings()
        self.events = StoreReadings()
        self.registry.register(_ReadingsCollector(self.events, self.projection_lag))
        self.live_subscribers = Gauge(
            "squid_views_live_subscribers",
            "Browsers connected to the live stream.",
            registry=self.registry,
        )


def _path_template(scope: Scope) -> str:
    # The route template keeps label cardinality bounded (no player numbers in labels).
    route = scope.get("route")
    if isinstance(route, BaseRoute):
        return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class MetricsMiddleware:
    """Pure ASGI middleware: it does not buffer streaming (server-sent events) responses."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            method, path = scope["method"], _path_template(scope)
            self.metrics.requests.labels(method, path, str(status)).inc()
            self.metrics.latency.labels(method, path).observe(time.perf_counter() - started)
