"""A worker serves Prometheus metrics: Faust's monitor and the projection's own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from squidstream.settings import Settings
from streams.bench.synthetic import synthetic_events
from tests.streams.streams_harness import produce, samples, wait_for_reports, worker
from tests.streams.workers import ON_A_CREATED_TOPIC, worker_test

pytestmark = worker_test(300, ON_A_CREATED_TOPIC)


@pytest.mark.asyncio
async def test_metrics_count_projected_events_and_lag_returns_to_zero(
    settings: Settings, tmp_path: Path
) -> None:
    events = synthetic_events(500, seed=31)
    url = f"http://127.0.0.1:{settings.faust_web_port}/metrics"
    with worker(settings, tmp_path):
        await produce(settings, events)
        await wait_for_reports(settings, len(events))
        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(40):  # the last acknowledgement lands just after the stores
                found = samples((await client.get(url)).text)
                if found.get(("squid_projected_events_total", ())) == len(events):
                    break
                await asyncio.sleep(0.25)
    assert found[("squid_projected_events_total", ())] == len(events)
    lags = {k: v for k, v in found.items() if k[0] == "squid_consumer_lag_records"}
    assert len(lags) == 4
    assert set(lags.values()) == {0}
    assert found[("squid_store_events_total", (("store", "sql"),))] == len(events)
    store_lags = {k: v for k, v in found.items() if k[0] == "squid_store_lag_records"}
    stores = {dict(labels)["store"] for _, labels in store_lags}
    assert stores == {"sql", "redis", "mongo"}
    assert len(store_lags) == 3 * 4  # every store, every partition
    assert set(store_lags.values()) == {0}
    assert found[("faust_messages_received_total", ())] >= len(events)
    assert found[("squid_batch_seconds_count", ())] >= 1
    # Every record was delivered: none had to be read back from the log.
    assert found[("squid_log_gap_records_total", ())] == 0
