"""`squidstream run`: which processes the main job starts, and with which settings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from squidshell.run import RESTART_LIMIT, Child, RunError, metrics_urls, pipeline, running
from squidstream.launcher import LaunchError
from squidstream.settings import Settings


def test_the_main_job_starts_gateways_workers_ingress_and_views_in_order() -> None:
    children = pipeline(Settings(), workers=2, weights=(70, 30))
    names = [child.name for child in children]
    assert names == [
        "gateway-kafka",
        "gateway-rabbitmq",
        "worker-1",
        "worker-2",
        "ingress",
        "views",
    ]


def test_each_worker_gets_its_own_web_port_and_the_views_get_no_worker_list() -> None:
    settings = Settings(faust_web_port=7000)
    children = {child.name: child for child in pipeline(settings, workers=3, weights=(1, 1))}
    ports = [children[f"worker-{i}"].env["SQUID_FAUST_WEB_PORT"] for i in (1, 2, 3)]
    assert ports == ["7000", "7001", "7002"]
    # The views find the workers on the workers topic, not in their environment.
    assert not any("WORKER" in name for name in children["views"].env)


def test_route_weights_reach_the_ingress_and_overrides_reach_every_child() -> None:
    children = pipeline(
        Settings(), workers=1, weights=(100, 0), env={"SQUID_EVENTS_TOPIC": "t1"}, with_views=False
    )
    ingress = next(child for child in children if child.name == "ingress")
    assert ingress.env["SQUID_ROUTE_WEIGHT_KAFKA"] == "100"
    assert ingress.env["SQUID_ROUTE_WEIGHT_RABBITMQ"] == "0"
    assert all(child.env["SQUID_EVENTS_TOPIC"] == "t1" for child in children)
    assert "views" not in {child.name for child in children}


def test_a_child_that_exits_is_restarted_until_the_limit(tmp_path: Path) -> None:
    child = Child("worker-1", [sys.executable, "-c", "raise SystemExit(70)"], lambda: True, "-")
    child.start(tmp_path)
    for restart in range(1, RESTART_LIMIT + 1):
        assert child.process is not None
        code = child.process.wait(timeout=30)
        child.restart(code)
        assert child.restarts == restart
    assert child.process is not None
    code = child.process.wait(timeout=30)
    with pytest.raises(RunError, match=f"code 70 after {RESTART_LIMIT} restarts"):
        child.restart(code)


def test_a_child_that_exits_before_it_is_ready_stops_the_run_with_its_last_log_lines(
    tmp_path: Path,
) -> None:
    argv = [sys.executable, "-c", "print('no broker at 127.0.0.1:9'); raise SystemExit(2)"]
    later = Child("ingress", [sys.executable, "-c", "raise SystemExit(0)"], lambda: True, "-")
    children = [Child("gateway-kafka", argv, lambda: False, "-"), later]
    failed = pytest.raises(LaunchError, match="gateway-kafka exited with code 2")
    with failed as caught, running(children, tmp_path):
        pass
    assert "no broker at 127.0.0.1:9" in str(caught.value)
    assert later.process is None  # nothing after it was started


def test_with_a_certificate_the_ingress_and_views_are_shown_and_scraped_over_https(
    tmp_path: Path,
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("certificate\n")
    key.write_text("key\n")
    settings = Settings(tls_cert_file=cert, tls_key_file=key)
    children = {child.name: child for child in pipeline(settings, workers=1, weights=(1, 1))}
    assert children["ingress"].where.startswith("https://")
    assert children["views"].where.startswith("https://")
    assert children["worker-1"].where.startswith("http://")  # Faust's web server: plain
    assert metrics_urls(settings, 1)[-1].startswith("https://")
    assert all(url.startswith("http://") for url in metrics_urls(Settings(), 1))
