"""Prometheus metrics of a gateway (its own loopback HTTP port) and of the ingress (`/metrics`).

Names follow the Prometheus conventions (base units, `_total` for counters). Each gateway
and each ingress app gets a registry of its own, so two of them in one process (tests) never
share counters. Hot paths count once per batch, never once per request.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter as Tally
from collections.abc import Iterable
from operator import attrgetter
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from gateways.errors import GatewayError
from gateways.reservations import Held, Verdict
from squidstream.http_metrics import RequestMetrics

log = logging.getLogger(__name__)

M = TypeVar("M", Counter, Histogram)
# A Kafka batch is confirmed in milliseconds, a RabbitMQ one in up to a second under load.
PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def reason_of(error: GatewayError) -> str:
    """A bounded label for a refusal: its exception class in snake case."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


class GatewayMetrics:
    """The instruments of one gateway; children for its route are bound once."""

    def __init__(self, route: str) -> None:
        self.registry = CollectorRegistry()
        self.route = route
        self.accepted = self._of_route(
            Counter,
            "squid_gateway_accepted_events",
            "New events the broker confirmed: each becomes one projected game.",
        )
        self.republished = self._of_route(
            Counter,
            "squid_gateway_republished_events",
            "Events of a taken-over reservation published again (same bytes, de-duplicated).",
        )
        self.replayed = self._of_route(
            Counter,
            "squid_gateway_replayed_answers",
            "Requests answered with an event already accepted for their request id (retries).",
        )
        self._refused = Counter(
            "squid_gateway_refused_requests",
            "Requests refused, by reason (error class) and the request field at fault.",
            ["route", "reason", "field"],
            registry=self.registry,
        )
        reservations = Counter(
            "squid_gateway_reservations",
            "Reservation verdicts: reserved, accepted, pending (wait) or taken_over.",
            ["route", "verdict"],
            registry=self.registry,
        )
        self._verdicts = {v: reservations.labels(route, v.name.lower()) for v in Verdict}
        self.publish_seconds = self._of_route(
            Histogram,
            "squid_gateway_publish_seconds",
            "Time from handing a batch to the broker to its confirmation (confirmed batches).",
            buckets=PUBLISH_BUCKETS,
        )
        self.publish_failures = self._of_route(
            Counter,
            "squid_gateway_publish_failures",
            "Batches the broker did not confirm within the bounded wait.",
        )

    def _of_route(self, kind: type[M], name: str, documentation: str, **options: Any) -> M:
        """An instrument labelled by route, bound to this gateway's route."""
        family = kind(name, documentation, ["route"], registry=self.registry, **options)
        return family.labels(self.route)

    def reserved(self, held: Iterable[Held]) -> None:
        # Runs on every batch: list.count compares by identity in C, where hashing each
        # Enum member (as a Counter would) runs Python code per request.
        verdicts = list(map(attrgetter("verdict"), held))
        for verdict, child in self._verdicts.items():
            if count := verdicts.count(verdict):
                child.inc(count)

    def refused(self, errors: Iterable[GatewayError]) -> None:
        tally = Tally((reason_of(error), getattr(error, "field", "")) for error in errors)
        for (reason, field), count in tally.items():
            self._refused.labels(self.route, reason, field).inc(count)


class MetricsEndpoint:
    """`/metrics` of one registry on its own HTTP port, served from a daemon thread.

    A thread, not the event loop: a scrape then never waits behind a busy gRPC loop, and a
    stuck loop still shows its last counters.
    """

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._server: WSGIServer
        self._thread: threading.Thread
        self._server, self._thread = start_http_server(port, host, registry)
        self.port: int = self._server.server_port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def open_endpoint(registry: CollectorRegistry, host: str, port: int) -> MetricsEndpoint | None:
    """The endpoint, or None (logged as an error) when the port is taken.

    Metrics observe the gateway; they must not stop it from taking games. On one host shared
    by several pipelines (tests, benchmarks) a default port is easily taken; in a cluster each
    gateway has a network of its own, and the error names the port to fix.
    """
    try:
        return MetricsEndpoint(registry, host, port)
    except OSError as exc:
        log.error("no /metrics: cannot listen on %s:%d (%s)", host, port, exc)
        return None


class IngressMetrics(RequestMetrics):
    """The instruments of one ingress app."""

    def __init__(self) -> None:
        super().__init__("squid_ingress")
        self.games = Counter(
            "squid_ingress_games",
            "Games sent to a gateway route, by outcome (accepted or the gRPC status name).",
            ["route", "outcome"],
            registry=self.registry,
        )
        self.route_seconds = Histogram(
            "squid_ingress_route_seconds",
            "Time from handing a game to a route's gateway client to its answer.",
            ["route"],
            buckets=PUBLISH_BUCKETS,
            registry=self.registry,
        )
