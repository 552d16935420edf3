"""A real Prometheus (Debian's `prometheus`) scrapes every process of a running pipeline.

Both gateways, the ingress, a worker and the views run as processes on free loopback ports
with private names on the shared stack; Prometheus runs on loopback with its storage in the
test's tmp dir. After a flood of distinct games (some retries, some invalid) through the
ingress, PromQL through Prometheus's HTTP API must show: every target up, the events the
gateways accepted per route equal to what clients were told and, summed, to what the worker
projected and every store holds (as the views read it), retries counted as replayed answers
(not accepted events), refusals by reason and field, and the consumer lag back at 0.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadtest.processes import Child, wait_http
from squidstream.settings import Settings
from tests.faults.harness import Pipeline
from tests.helpers import free_port, isolated_settings

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.timeout(400)]

GAMES = 1200
RETRIES = 100
INVALID = 30  # game_id 9: refused by the gateway, naming the field
SCRAPE_INTERVAL_S = 1
SETTLE_TIMEOUT_S = 120.0
PROMETHEUS = shutil.which("prometheus")


def scrape_config(jobs: dict[str, list[int]]) -> str:
    """A Prometheus config scraping `/metrics` of each job's loopback ports every second."""
    lines = [
        "global:",
        f"  scrape_interval: {SCRAPE_INTERVAL_S}s",
        f"  scrape_timeout: {SCRAPE_INTERVAL_S}s",
        "scrape_configs:",
    ]
    for job, ports in jobs.items():
        targets = ", ".join(f"'127.0.0.1:{port}'" for port in ports)
        lines += [f"  - job_name: {job}", "    static_configs:", f"      - targets: [{targets}]"]
    return "\n".join(lines) + "\n"


@contextmanager
def prometheus(tmp: Path, jobs: dict[str, list[int]]) -> Iterator[str]:
    """Prometheus on a free loopback port, storage under `tmp`; stopped however we leave."""
    assert PROMETHEUS is not None
    config = tmp / "prometheus.yml"
    config.write_text(scrape_config(jobs))
    port = free_port()
    log = (tmp / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def ready(api: httpx.AsyncClient, timeout_s: float = 60.0) -> None:
    """Wait until Prometheus has loaded its storage and answers queries (503 before)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if (await api.get("/-/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"Prometheus not ready after {timeout_s:.0f}s"
        await asyncio.sleep(0.2)


async def query(api: httpx.AsyncClient, promql: str) -> dict[tuple[tuple[str, str], ...], float]:
    """An instant query's vector, by its label set."""
    response = await api.get("/api/v1/query", params={"query": promql})
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return {
        tuple(sorted(sample["metric"].items())): float(sample["value"][1])
        for sample in body["data"]["result"]
    }


async def until(
    api: httpx.AsyncClient,
    promql: str,
    done: Callable[[dict[tuple[tuple[str, str], ...], float]], bool],
    timeout_s: float = SETTLE_TIMEOUT_S,
) -> dict[tuple[tuple[str, str], ...], float]:
    """Poll a query until `done` holds; its last answer either way (the assert shows it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await query(api, promql)
        if done(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


async def flood(url: str) -> Counter[str]:
    """GAMES distinct games through the ingress, then RETRIES of them again; accepted per route."""
    limit = asyncio.Semaphore(40)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def play(index: int) -> dict[str, Any]:
            body = {"game_id": index % 5 + 1, "players": 4 + index % 97, "request_id": f"p{index}"}
            async with limit:
                response = await client.post("/api/games", json=body)
            assert response.status_code == 201, response.text
            event: dict[str, Any] = response.json()
            return event

        async def refused(index: int) -> None:
            body = {"game_id": 9, "players": 5, "request_id": f"bad{index}"}
            async with limit:
                response = await client.post("/api/games", json=body)
            assert response.status_code == 422, response.text

        events = await asyncio.gather(*(play(i) for i in range(GAMES)))
        await asyncio.gather(*(play(i) for i in range(RETRIES)))
        await asyncio.gather(*(refused(i) for i in range(INVALID)))
    return Counter(event["route"] for event in events)


# Every process this test starts listens on a free port of its own.
PORTS = (
    "gateway_kafka_port",
    "gateway_rabbitmq_port",
    "gateway_kafka_metrics_port",
    "gateway_rabbitmq_metrics_port",
    "ingress_port",
    "views_port",
)


def _settings(stack: Settings) -> Settings:
    ports = {name: free_port() for name in PORTS}
    return isolated_settings(stack, "prom").model_copy(update=ports)


async def scalar(api: httpx.AsyncClient, promql: str, expected: float) -> list[float]:
    """The single value of a query once it equals `expected` (polled: scrapes trail by 1 s)."""
    found = await until(api, promql, lambda found: list(found.values()) == [expected])
    return list(found.values())


async def check_queries(api: httpx.AsyncClient, routes: Counter[str]) -> None:
    """What Prometheus must see once the pipeline has settled after the flood."""
    accepted = await until(
        api,
        "sum by (route) (squid_gateway_accepted_events_total)",
        lambda found: _by("route", found) == routes,
    )
    assert _by("route", accepted) == routes
    assert await scalar(api, "sum(squid_projected_events_total)", GAMES) == [GAMES]
    same = "sum(squid_gateway_accepted_events_total) - sum(squid_projected_events_total)"
    assert await scalar(api, same, 0) == [0]
    assert await scalar(api, "max(squid_consumer_lag_records)", 0) == [0]
    assert await scalar(api, "sum(squid_gateway_replayed_answers_total)", RETRIES) == [RETRIES]
    bad = 'sum(squid_gateway_refused_requests_total{reason="invalid_request", field="game_id"})'
    assert await scalar(api, bad, INVALID) == [INVALID]
    ingress = 'sum(squid_ingress_games_total{outcome="accepted"})'
    assert await scalar(api, ingress, GAMES + RETRIES) == [GAMES + RETRIES]
    refused = 'sum(squid_ingress_games_total{outcome="invalid_argument"})'
    assert await scalar(api, refused, INVALID) == [INVALID]
    stores = await until(
        api,
        "squid_views_projected_events_total",
        lambda found: set(_by("store", found).values()) == {GAMES},
    )
    assert _by("store", stores) == dict.fromkeys(("mongo", "redis", "sql"), GAMES)
    faust = await query(api, 'count({__name__=~"faust_.+", job="worker"})')
    assert sum(faust.values()) > 0, "Faust's own monitor is scraped too"


def _by(label: str, vector: dict[tuple[tuple[str, str], ...], float]) -> dict[str, int]:
    return {dict(labels)[label]: int(value) for labels, value in vector.items()}


@pytest.mark.skipif(PROMETHEUS is None, reason="Debian's prometheus is missing: make setup-system")
@pytest.mark.asyncio
async def test_prometheus_sees_every_process_and_accepted_equals_projected_once_settled(
    stack: Settings, tmp_path: Path
) -> None:
    settings = _settings(stack)
    pipeline = Pipeline(settings, tmp_path, workers=1)
    views = Child(["views"], settings.as_env(), tmp_path / "views.log", cwd=tmp_path)
    jobs = {
        "gateway": [settings.gateway_kafka_metrics_port, settings.gateway_rabbitmq_metrics_port],
        "ingress": [settings.ingress_port],
        "worker": pipeline.worker_ports,
        "views": [settings.views_port],
    }
    try:
        await pipeline.start()
        views.start()
        await wait_http(views, f"http://127.0.0.1:{settings.views_port}/healthz")
        with prometheus(tmp_path, jobs) as url:
            async with httpx.AsyncClient(base_url=url, timeout=10) as api:
                await ready(api)
                up = await until(api, "up == 1", lambda found: len(found) == 5, timeout_s=60)
                assert sorted(_by("job", up)) == ["gateway", "ingress", "views", "worker"]

                routes = await flood(pipeline.ingress_url)

                await check_queries(api, routes)
                up = await query(api, "up")
                assert set(up.values()) == {1.0}, up
    finally:
        views.stop()
        pipeline.stop()
