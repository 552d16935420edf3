"""The views' metric names follow the Prometheus conventions: base units, `_total` counters."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from views.metrics import Metrics


def _families(metrics: Metrics) -> dict[str, str]:
    text = generate_latest(metrics.registry).decode()
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def test_store_event_counts_are_counters_and_lag_is_in_seconds() -> None:
    metrics = Metrics()
    metrics.events.labels("redis").set(42)
    metrics.projection_lag.labels("sql").set(1500)  # the live feed reads lag in ms

    registry = metrics.registry
    total = registry.get_sample_value("squid_views_projected_events_total", {"store": "redis"})
    lag = registry.get_sample_value("squid_views_projection_lag_seconds", {"store": "sql"})
    assert (total, lag) == (42.0, 1.5)
    families = _families(metrics)
    assert families["squid_views_projected_events"] == "counter"
    assert families["squid_views_projection_lag_seconds"] == "gauge"


def test_no_metric_name_carries_a_non_base_unit() -> None:
    metrics = Metrics()
    metrics.events.labels("mongo").set(1)
    metrics.projection_lag.labels("mongo").set(1)
    metrics.requests.labels("GET", "/", "200").inc()
    names = _families(metrics)
    assert not [name for name in names if name.endswith(("_ms", "_milliseconds"))]
    assert "squid_projected_events" not in names


def test_audit_pages_are_counted_by_where_they_came_from() -> None:
    metrics = Metrics()
    metrics.audit_pages.update(["recent", "recent", "collection"])
    registry = metrics.registry
    recent = registry.get_sample_value("squid_views_audit_pages_total", {"source": "recent"})
    scans = registry.get_sample_value("squid_views_audit_pages_total", {"source": "collection"})
    assert (recent, scans) == (2.0, 1.0)
    assert _families(metrics)["squid_views_audit_pages"] == "counter"
