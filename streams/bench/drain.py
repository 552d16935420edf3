"""`squidstream bench streams`: drain rates of a bare consumer, a Faust agent that only
counts, our worker and a naive consumer; each store's batched write rate alone.

The counting agent takes batches from the same topic the way our projection agent does
(`noack_take`, then an ack per event) and does nothing else, so its rate is Faust's own
ceiling here: what our worker loses below it is the projection's cost, not Faust's.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faust
import httpx
from faust.types import StreamT

from squidstream.bench_goals import DRAIN
from squidstream.isolation import isolated
from squidstream.launcher import Launched, stop_all
from squidstream.settings import Settings, load_settings
from squidstream.worker_pages import worker_tables_url
from streams.bench.naive import naive_drain
from streams.bench.stores import clean_up, store_rates
from streams.bench.synthetic import produce, synthetic_events
from streams.projection.decode import Event
from streams.projection.log_reader import end_offsets, open_reader
from streams.projection.project import close_stores, open_stores
from streams.projection.replay import drop_changelogs, fence
from streams.worker import FAUST_APP
from streams.worker.broker_auth import broker_credentials

WORKER_TIMEOUT_S = 900.0
STOP_GRACE_S = 60.0
# How often the drain asks the workers' page for their count: each answer sums every table
# key, which at 20 per second took about 4% of the worker being measured.
POLL_S = 0.25
# The per-store ceilings are measured on this many events in batches of STORE_BATCH.
STORE_SAMPLE = 20_000
STORE_BATCH = 1000


def bench_settings(base: Settings, tag: str) -> Settings:
    """Settings with a private topic, group, key prefix and databases for one bench run."""
    return isolated(base, f"squid_bench_{tag}", base.faust_web_port + 900)


async def preload(settings: Settings, events: Sequence[Event]) -> float:
    """Produce the events (key = event id); returns the produce rate."""
    started = time.perf_counter()
    await produce(settings, [events])
    return len(events) / (time.perf_counter() - started)


async def bare_drain(settings: Settings) -> float:
    """A bare aiokafka consumer reading every record once: the ceiling for Python here."""
    async with open_reader(settings) as consumer:
        ends = await end_offsets(consumer, settings)
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        total, seen = sum(ends.values()), 0
        started = time.perf_counter()
        while seen < total:
            fetched = await consumer.getmany(timeout_ms=500, max_records=10_000)
            seen += sum(len(records) for records in fetched.values())
        return total / (time.perf_counter() - started)


def start_worker(settings: Settings, log_path: Path) -> Launched:
    """A `faust -A streams.worker.app worker` subprocess with its own data directory."""
    faust = Path(sys.executable).with_name("faust")
    data_dir = log_path.with_suffix(".data")
    command = [
        str(faust),
        "-A",
        FAUST_APP,
        "--datadir",
        str(data_dir),
        "worker",
        "-l",
        "warn",
    ]
    command += ["--web-port", str(settings.faust_web_port)]
    name = f"worker on port {settings.faust_web_port}"
    return Launched(command, name=name, env=settings.as_env(), log=log_path)


async def worker_drain(settings: Settings, total: int, log_dir: Path, workers: int = 1) -> float:
    """Run `workers` worker processes over the preloaded topic; rate from first to last batch."""
    group = [
        settings.model_copy(update={"faust_web_port": settings.faust_web_port + i})
        for i in range(workers)
    ]
    processes = [
        start_worker(one, log_dir / f"worker-{workers}-{i}-{one.faust_web_port}.log")
        for i, one in enumerate(group)
    ]
    urls = [worker_tables_url("127.0.0.1", one.faust_web_port) for one in group]
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                projected = sum([await _projected(client, url) for url in urls])
                now = time.perf_counter()
                if projected and first is None:
                    first = (now, projected)
                if first and projected >= total:
                    return (projected - first[1]) / max(now - first[0], 1e-9)
                for process in processes:
                    process.check_alive()
                await asyncio.sleep(POLL_S)
        raise RuntimeError(f"workers did not finish in {WORKER_TIMEOUT_S:.0f}s; see {log_dir}")
    finally:
        stop_all(processes, STOP_GRACE_S)


COUNTER = "count-only"


def counter_app(settings: Settings, total: int, result: Path) -> faust.App:
    """A Faust app (its own group) with one agent that counts the topic's events, no more."""
    app = faust.App(
        f"{settings.faust_app_id}-{COUNTER}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=broker_credentials(settings),
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.events_partitions,
        topic_replication_factor=settings.events_replication_factor,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
    )
    topic = app.topic(
        settings.events_topic,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.events_partitions,
    )

    async def count(stream: StreamT[Any]) -> None:
        # Timed from the first batch to the last, as worker_drain times our worker.
        first: tuple[float, int] | None = None
        seen = 0
        take = stream.noack_take  # type: ignore[attr-defined]
        async for events in take(settings.batch_size, within=settings.batch_timeout_s):
            seen += len(events)
            for event in events:
                await stream.ack(event)
            now = time.perf_counter()
            if first is None:
                first = (now, seen)
            elif seen >= total:
                rate = (seen - first[1]) / max(now - first[0], 1e-9)
                _write_result(result, {"events": seen, "events_per_s": rate})

    app.agent(topic, name="squid-bench-count", concurrency=1)(count)
    return app


def _write_result(path: Path, body: dict[str, float]) -> None:
    # Renamed into place, so the waiting parent never reads half a file.
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(body))
    partial.replace(path)


def run_counter(total: int, result: Path) -> None:
    """The counting worker's process: `python -m streams.bench.drain count-only TOTAL RESULT`."""
    app = counter_app(load_settings(), total, result)
    faust.Worker(app, loglevel="warning").execute_from_commandline()


def start_counter(settings: Settings, total: int, result: Path, log_dir: Path) -> Launched:
    command = [sys.executable, "-m", "streams.bench.drain", COUNTER, str(total), str(result)]
    log = log_dir / f"{COUNTER}.log"
    return Launched(command, name=COUNTER, env=settings.as_env(), log=log, cwd=log_dir)


async def counter_drain(settings: Settings, total: int, log_dir: Path) -> float:
    """Run the counting agent in its own process over the preloaded topic; its events/s."""
    result = log_dir / f"{COUNTER}-{settings.faust_app_id}.json"
    result.unlink(missing_ok=True)
    process = start_counter(settings, total, result, log_dir)
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    try:
        while not result.exists():
            process.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the counting agent did not finish in {WORKER_TIMEOUT_S:.0f}s")
            await asyncio.sleep(0.05)
        return float(json.loads(result.read_text())["events_per_s"])
    finally:
        process.stop(STOP_GRACE_S)
        result.unlink(missing_ok=True)
        # Faust makes `<app id>-data` in its working directory even with in-memory tables.
        shutil.rmtree(log_dir / f"{settings.faust_app_id}-{COUNTER}-data", ignore_errors=True)


async def reproject_from_zero(settings: Settings) -> None:
    """Forget everything the last run projected: group offsets, tables, stores."""
    await fence(settings)
    await drop_changelogs(settings)
    await reset_stores(settings)


async def _projected(client: httpx.AsyncClient, url: str) -> int:
    try:
        response = await client.get(url)
        return int(response.json()["worker"]["projected"])
    except (httpx.HTTPError, ValueError, KeyError):
        return 0


async def reset_stores(settings: Settings) -> None:
    stores = (await open_stores(settings)).all
    try:
        for store in stores:
            await store.reset()
    finally:
        await close_stores(stores)


async def bench(base: Settings, count: int, naive_sample: int, workers: int = 2) -> bool:
    """Preload, measure every drain and store, print rates, ratios and a verdict; clean up.

    True when every goal is met. `workers` > 1 also drains with that many processes.
    """
    tag = uuid.uuid4().hex[:8]
    settings = bench_settings(base, tag)
    try:
        return await _measure(settings, base.data_dir / "bench", count, naive_sample, workers)
    finally:
        name = settings.faust_app_id
        await clean_up(settings, name)
        print(f"cleaned up topics {name}*, databases and Redis prefix {settings.redis_prefix}")


async def _measure(
    settings: Settings, log_dir: Path, count: int, naive_sample: int, workers: int
) -> bool:
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    print(f"load average at start: {_loadavg()}", flush=True)
    events = synthetic_events(count)
    print(f"preloading {count:,} events into {settings.events_topic} ...", flush=True)
    produce = await preload(settings, events)
    bare = await bare_drain(settings)
    print(f"bare aiokafka consumer: {bare:,.0f} events/s (produce {produce:,.0f}/s)", flush=True)
    counted = await counter_drain(settings, count, log_dir)
    print(f"faust agent that only counts: {counted:,.0f} events/s", flush=True)
    worker = await worker_drain(settings, count, log_dir)
    print(f"our worker (faust agent, 3 projections): {worker:,.0f} events/s", flush=True)
    print(per_event_costs(counted, worker), flush=True)
    if workers > 1:
        await reproject_from_zero(settings)
        many = await worker_drain(settings, count, log_dir, workers=workers)
        print(
            f"{workers} workers ({workers} processes, faust agent, 3 projections): "
            f"{many:,.0f} events/s",
            flush=True,
        )
    await reset_stores(settings)
    sample = events[: min(len(events), STORE_SAMPLE)]
    stores = await store_rates(settings, sample, STORE_BATCH)
    for name, rate in stores.items():
        print(f"  {name} alone, {STORE_BATCH:,}-event batches: {rate:,.0f} events/s", flush=True)
    naive = await naive_drain(settings, naive_sample)
    print(f"naive per-message consumer ({naive_sample:,} events): {naive:,.0f} events/s")
    print(f"load average at end: {_loadavg()}")
    return report(bare, worker, naive, stores)


def per_event_costs(counted: float, ours: float) -> str:
    """Faust's own cost per event beside what our projection adds to it, in microseconds."""
    faust_us, ours_us = 1e6 / counted, 1e6 / ours
    return (
        f"per event: faust alone {faust_us:,.1f} us, our worker {ours_us:,.1f} us, "
        f"so the projection adds {ours_us - faust_us:,.1f} us "
        f"({ours / counted:.2f} of faust's rate)"
    )


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def report(bare: float, ours: float, naive: float, stores: dict[str, float]) -> bool:
    """Print ratios and a verdict per goal; True when every goal is met."""
    half, twenty = ours >= bare / 2, ours >= 20 * naive
    print(f"ours / bare  = {ours / bare:.3f}  (goal >= 0.5: {'met' if half else 'MISSED'})")
    print(f"ours / naive = {ours / naive:.1f}  (goal >= 20: {'met' if twenty else 'MISSED'})")
    floor = ours >= DRAIN.floor
    verdict = "met" if floor else "MISSED"
    print(f"ours = {ours:,.0f}/s  (goal >= {DRAIN.floor:,.0f}/s: {verdict})")
    slowest = min(stores.values()) if stores else None
    if stores:
        name, ceiling = min(stores.items(), key=lambda item: item[1])
        share = ours >= DRAIN.of_slowest * ceiling
        print(
            f"slowest store: {name} at {ceiling:,.0f}/s alone; ours / that = {ours / ceiling:.2f}"
            f" (goal >= {DRAIN.of_slowest}: {'met' if share else 'MISSED'};"
            " a worker cannot drain faster than its slowest store writes)"
        )
    met = half and twenty and DRAIN.met(ours, slowest)
    print(f"verdict: {'all goals met' if met else 'goals missed (see the lines above)'}")
    return met


if __name__ == "__main__":
    # Only the counting worker runs this module directly (see counter_drain).
    if len(sys.argv) != 4 or sys.argv[1] != COUNTER:
        sys.exit(f"usage: python -m streams.bench.drain {COUNTER} TOTAL RESULT_FILE")
    run_counter(int(sys.argv[2]), Path(sys.argv[3]))
