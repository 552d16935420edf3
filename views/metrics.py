"""Prometheus metrics of one app: request counts and latencies, projection lag per store."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
        self.projection_lag = Gauge(
            "squid_projection_lag_ms",
            "Now minus the projection time of the newest data, per store.",
            ["store"],
            registry=self.registry,
        )
        self.events = Gauge(
            "squid_projected_events",
            "Events applied by each store's projection.",
            ["store"],
            registry=self.registry,
        )
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
