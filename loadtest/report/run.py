"""`squidstream bench report`: run every section in turn, then write the report files.

A section that fails records its error and the run goes on, so one broken piece still
leaves a report of the rest (and `--check` names the goals it could not measure).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from loadtest.report import freshness, ingest, java_clients, reads
from loadtest.report.conclusions import conclusions
from loadtest.report.drain import run_drain
from loadtest.report.goals import Goal, check_goals, missed
from loadtest.report.machine import (
    describe_machine,
    load_average,
    require_loopback,
    server_versions,
)
from loadtest.report.markdown import render
from loadtest.report.pipeline import Processes, pipeline
from loadtest.report.plots import draw_all
from loadtest.report.results import Results, write_json
from loadtest.report.usage import UsageSampler, server_pids
from squidstream.settings import Settings
from views.resources import open_resources


@dataclass(frozen=True, slots=True)
class Plan:
    ingest: ingest.IngestPlan
    kafka_records: int
    rabbitmq_messages: int
    fresh_rates: tuple[int, ...]
    fresh_seconds: float
    fresh_wait_s: float
    drain_events: int
    drain_naive: int
    drain_workers: int
    read_sizes: tuple[int, ...]
    read_calls: int
    audit_calls: int
    timeout_s: float


QUICK = Plan(
    ingest=ingest.IngestPlan(300, (10, 50), 4_000, 500, (1, 4)),
    kafka_records=30_000,
    rabbitmq_messages=5_000,
    fresh_rates=(250, 1_000),
    fresh_seconds=2.5,
    fresh_wait_s=4.0,
    drain_events=2_000,
    drain_naive=200,
    drain_workers=1,
    read_sizes=(1_000, 3_000),
    read_calls=100,
    audit_calls=5,
    timeout_s=120.0,
)
# Sized to end within 30 minutes on our 2-core machine: the replays that load 10^4, 10^5 and
# 10^6 events take about half of that, so the other sections are kept short.
FULL = Plan(
    ingest=ingest.IngestPlan(5_000, (10, 50, 200), 50_000, 1_000, (1, 2, 4, 8)),
    kafka_records=500_000,
    rabbitmq_messages=100_000,
    fresh_rates=(250, 1_000, 4_000, 8_000),
    fresh_seconds=15.0,
    fresh_wait_s=20.0,
    drain_events=100_000,
    drain_naive=2_000,
    drain_workers=2,
    read_sizes=(10_000, 100_000, 1_000_000),
    read_calls=2_000,
    # On FerretDB a log page is a scan, stopped at LOG_MAX_TIME_MS: 10 calls bound the time.
    audit_calls=10,
    timeout_s=900.0,
)


def steps(plan: Plan) -> int:
    return (
        ingest.ingest_steps(plan.ingest)
        + 3  # build the JVM clients, Kafka, RabbitMQ
        + 1 + len(ingest.ROUTES) * len(plan.fresh_rates)  # pipeline start, points
        + 1  # drain
        + 3 * len(plan.read_sizes)  # load, read, replay per size
    )  # fmt: skip


class Run:
    """One report run: the results so far, a progress bar, a sampler per section."""

    def __init__(self, settings: Settings, plan: Plan, out: Path, quick: bool) -> None:
        self.settings, self.plan, self.out = settings, plan, out
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.results = Results(started_at=now, quick=quick, machine=describe_machine())
        self.bar = tqdm(total=steps(plan), unit="step", desc="bench report")
        self._sampler: UsageSampler | None = None

    def tick(self, what: str = "") -> None:
        if what:
            self.bar.set_postfix_str(what)
        self.bar.update(1)

    def started(self, name: str, pid: int) -> None:
        if self._sampler is not None:
            self._sampler.add(name, pid)

    async def section(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        self.bar.set_postfix_str(name)
        self._sampler = UsageSampler(server_pids(self.settings.data_dir / "run"))
        self._sampler.add("bench report (this process)", os.getpid())
        try:
            with self._sampler.running():
                await body()
        except Exception as exc:  # recorded in the report; the other sections still run
            self.results.errors[name] = f"{type(exc).__name__}: {exc}"
        finally:
            self.results.usage += self._sampler.results(name)
            self._sampler = None

    async def ingest(self) -> None:
        for route in ingest.ROUTES:
            points = await ingest.ingest_route(
                route, self.settings, self.plan.ingest, self.started, self.tick
            )
            self.results.ingest += points

    async def ceilings(self) -> None:
        classpath = await asyncio.to_thread(java_clients.build, self.settings)
        self.tick("JVM clients built")
        kafka = await java_clients.kafka_ceiling(self.settings, classpath, self.plan.kafka_records)
        self.results.ceilings.append(kafka)
        self.tick()
        rabbit = await asyncio.to_thread(
            java_clients.rabbitmq_ceiling, self.settings, classpath, self.plan.rabbitmq_messages
        )
        self.results.ceilings.append(rabbit)
        self.tick()

    async def freshness(self) -> None:
        async with pipeline(self.settings, "fresh", self.out / "logs" / "fresh", self.started) as p:
            await p.worker()
            targets = {route: await p.gateway(route) for route in ingest.ROUTES}
            for route, target in targets.items():
                # Warm-up: assignment, schema creation, connections; not a sample.
                await freshness.measure_point(p.settings, target, route, 50, 2.0, 10.0)
            self.tick("pipeline up")
            # Rates ascending, routes alternating: a backlog left by a rate the worker could
            # not keep up with then lands on the higher rates only, never on one whole route.
            for per_s in self.plan.fresh_rates:
                for route, target in targets.items():
                    point = await freshness.measure_point(
                        p.settings,
                        target,
                        route,
                        per_s,
                        self.plan.fresh_seconds,
                        self.plan.fresh_wait_s,
                    )
                    self.results.freshness.append(point)
                    self.tick(f"freshness {route} {per_s}/s")

    async def drain(self) -> None:
        env = {**os.environ, **self.settings.as_env()}
        self.results.drain = await asyncio.to_thread(
            run_drain,
            self.plan.drain_events,
            self.plan.drain_naive,
            self.plan.drain_workers,
            env,
            self.plan.timeout_s,
            self.started,
        )
        self.tick("drain")

    async def reads(self) -> None:
        # Replay is the load: it projects the whole log through the worker's engine
        # (streams/projection/project.py), so one pass both fills the stores for the reads and gives
        # the replay figure. A worker draining the same events first would double the time.
        async with pipeline(self.settings, "reads", self.out / "logs" / "reads", self.started) as p:
            loaded = 0
            # The log's games end before now however many are loaded, 1 ms apart.
            origin_ms = int(time.time() * 1000) - max(self.plan.read_sizes, default=0)
            for size in self.plan.read_sizes:
                await reads.load_events(p.settings, loaded, size, origin_ms)
                loaded = size
                self.tick(f"{size:,} events on the topic")
                point = await asyncio.to_thread(
                    reads.run_replay, p.settings, size, self.plan.timeout_s
                )
                self.results.replay.append(point)
                await _projected(p, size, self.plan.timeout_s)
                self.tick(f"replay at {size:,}")
                self.results.reads += await reads.result_reads(
                    p.settings, size, self.plan.read_calls
                )
                self.results.reads += await reads.audit_reads(
                    p.settings, size, self.plan.audit_calls
                )
                self.tick(f"reads at {size:,}")

    async def run(self) -> list[Goal]:
        self.results.machine = replace(
            self.results.machine, servers=await server_versions(self.settings)
        )
        await self.section("ingest", self.ingest)
        await self.section("broker ceilings", self.ceilings)
        await self.section("freshness", self.freshness)
        await self.section("drain", self.drain)
        await self.section("reads and replay", self.reads)
        self.bar.close()
        self.results.machine = replace(self.results.machine, load_after=load_average())
        self.results.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        return self.write()

    def write(self) -> list[Goal]:
        goals = check_goals(self.results)
        write_json(self.results, self.out / "results.json")
        plots = draw_all(self.results, self.out)
        text = render(self.results, goals, conclusions(self.results), plots)
        (self.out / "report.md").write_text(text, encoding="utf-8")
        return goals


async def _projected(p: Processes, size: int, timeout_s: float) -> None:
    """Wait until Redis and SQL both hold `size` events (Mongo's counters may come later)."""
    resources = await open_resources(p.settings)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while True:
            try:
                counts = [
                    await resources.redis_reports.events(),
                    await resources.sql_reports.events(),
                ]
            except Exception:  # the schema may not exist until the worker's first batch
                counts = [0]
            if min(counts) >= size:
                return
            if loop.time() > deadline:
                raise TimeoutError(
                    f"stores hold {counts} of {size:,} events after {timeout_s:.0f}s"
                )
            await asyncio.sleep(0.2)
    finally:
        await resources.close()


def bench_report(settings: Settings, out: Path, quick: bool, check: bool) -> int:
    """Run, write DIR/report.md, results.json and the plots; with `check`, fail on a miss."""
    require_loopback(settings)
    out.mkdir(parents=True, exist_ok=True)
    goals = asyncio.run(Run(settings, QUICK if quick else FULL, out, quick).run())
    print(f"wrote {out / 'report.md'}, {out / 'results.json'} and the plots beside them")
    misses = missed(goals)
    for goal in goals:
        print(f"goal {goal.name}: {'met' if goal.met else 'MISSED'}: {goal.measured}")
    if check and misses:
        print("goals missed: " + ", ".join(goal.name for goal in misses))
        return 1
    return 0
