"""Request counts and latencies of an HTTP app by route template, from pure ASGI middleware.

The ingress and the views count their requests the same way; each app subclasses
`RequestMetrics` with its own name prefix and registry (two apps in one process, as in the
tests, never share counters) and adds its own instruments.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetrics:
    """A registry with `{prefix}_requests_total` and `{prefix}_request_seconds`."""

    def __init__(self, prefix: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            f"{prefix}_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{prefix}_request_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "path"],
            registry=self.registry,
        )

    def response(self) -> Response:
        """The registry in Prometheus's text format: the body of the app's `/metrics`."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def page(self, request: Request) -> Response:
        """`/metrics` as a plain Starlette endpoint."""
        return self.response()


def _path_template(scope: Scope) -> str:
    # The route template keeps label cardinality bounded (no ids in labels).
    route = scope.get("route")
    if isinstance(route, BaseRoute):
        return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class RequestMetricsMiddleware:
    """Counts and times every HTTP request; it never buffers a streaming (SSE) response."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
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
