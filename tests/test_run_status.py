"""`squidstream run`'s status line: read from every process's `/metrics`, rates per interval."""

from __future__ import annotations

import argparse
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge

from gateways.metrics import MetricsEndpoint
from loadtest.flood import FloodOptions, locust_command
from squidshell.run import (
    Reading,
    _flood_args,
    metrics_urls,
    pipeline,
    reading,
    scrape,
    status_line,
)
from squidstream.settings import Settings
from tests.helpers import free_port


def _reading(at: float, kafka: float, projected: float, **extra: float) -> Reading:
    return Reading(
        at=at,
        accepted={"kafka": kafka, "rabbitmq": kafka / 2},
        projected=projected,
        dead_letters=extra.get("dead", 0.0),
        lag_records=extra.get("records", 0.0),
        lag_s={"sql": extra.get("sql_lag", 0.0), "redis": 0.25},
    )


def test_the_line_shows_rates_per_route_projected_rate_lag_per_store_and_dead_letters() -> None:
    before = _reading(100.0, kafka=1000, projected=900)
    now = _reading(105.0, kafka=3000, projected=3900, dead=2, records=150, sql_lag=1.5)

    line = status_line(before, now, started=90.0)

    assert "accepted/s kafka 400 rabbitmq 200" in line
    assert "projected/s 600" in line
    assert "lag sql 1.5s redis 0.2s (150 records)" in line
    assert line.endswith("dead letters 2")
    assert line.startswith("[   15s]")


def test_stores_are_not_behind_once_no_record_waits_and_unknown_without_workers() -> None:
    idle = _reading(5.0, 10, 10, records=0, sql_lag=21.0)
    assert "lag sql 0.0s redis 0.0s (0 records)" in status_line(idle, idle, started=0.0)
    silent = Reading(5.0, {}, 0.0, 0.0, None, {})
    assert "lag - (- records)" in status_line(silent, silent, started=0.0)


def test_a_restarted_process_counting_from_zero_shows_no_progress_not_a_negative_rate() -> None:
    line = status_line(_reading(0.0, 5000, 5000), _reading(5.0, 10, 10), started=0.0)
    assert "kafka 0 rabbitmq 0" in line
    assert "projected/s 0 " in line


def test_samples_of_every_process_are_summed() -> None:
    samples = [
        ("squid_gateway_accepted_events_total", {"route": "kafka"}, 7.0),
        ("squid_gateway_accepted_events_total", {"route": "rabbitmq"}, 3.0),
        ("squid_projected_events_total", {}, 4.0),
        ("squid_projected_events_total", {}, 5.0),  # a second worker
        ("squid_consumer_lag_records", {"partition": "0"}, 2.0),
        ("squid_consumer_lag_records", {"partition": "1"}, 3.0),
        ("squid_dead_letters_total", {"source": "kafka"}, 1.0),
        ("squid_views_projection_lag_seconds", {"store": "mongo"}, 0.5),
        ("faust_events_total", {}, 99.0),
    ]
    found = reading(samples, at=1.0)
    assert found.accepted == {"kafka": 7.0, "rabbitmq": 3.0}
    assert (found.projected, found.lag_records, found.dead_letters) == (9.0, 5.0, 1.0)
    assert found.lag_s == {"mongo": 0.5}


def test_scrape_reads_a_live_metrics_page_and_nothing_from_a_silent_port() -> None:
    registry = CollectorRegistry()
    Counter("squid_projected_events", "x", registry=registry).inc(12)
    Gauge("squid_consumer_lag_records", "x", ["partition"], registry=registry).labels("3").set(4)
    endpoint = MetricsEndpoint(registry, "127.0.0.1", 0)
    try:
        samples = scrape(f"http://127.0.0.1:{endpoint.port}/metrics")
    finally:
        endpoint.close()
    found = reading(samples, at=0.0)
    assert (found.projected, found.lag_records) == (12.0, 4.0)
    assert scrape(f"http://127.0.0.1:{free_port()}/metrics") == []


def test_the_board_reads_every_process_the_main_job_starts() -> None:
    settings = Settings(faust_web_port=7100, gateway_kafka_metrics_port=7201)
    children = {child.name: child for child in pipeline(settings, workers=2, weights=(1, 1))}
    urls = metrics_urls(settings, workers=2)
    assert "http://127.0.0.1:7201/metrics" in urls
    assert f"http://127.0.0.1:{settings.gateway_rabbitmq_metrics_port}/metrics" in urls
    for name in ("worker-1", "worker-2"):
        port = children[name].env["SQUID_FAUST_WEB_PORT"]
        assert f"http://127.0.0.1:{port}/metrics" in urls
    assert f"http://127.0.0.1:{settings.views_port}/metrics" in urls


def test_locust_writes_its_html_report_next_to_the_run_logs(tmp_path: Path) -> None:
    args = argparse.Namespace(
        users=5, spawn_rate=1, flood_time="10s", kafka_weight=50, rabbitmq_weight=50
    )
    flood = _flood_args(args, Settings(), tmp_path)
    assert flood[flood.index("--html") + 1] == str(tmp_path / "run-flood.html")
    assert flood[flood.index("--csv-prefix") + 1] == str(tmp_path / "run-flood")
    options = FloodOptions(1, 1.0, "1s", 1, 1, tmp_path / "f", "http://h", html_report=tmp_path)
    command = locust_command(options)
    assert command[command.index("--html") + 1] == str(tmp_path)
    assert "--html" not in locust_command(FloodOptions(1, 1.0, "1s", 1, 1, tmp_path, "http://h"))
