"""FerretDB on SQLite against FerretDB on PostgreSQL, on private stacks, interleaved.

    python -m tests.stack.mongo_backend_bench lane [EVENTS] [RUNS]
    python -m tests.stack.mongo_backend_bench drain [EVENTS] [RUNS]

`lane`: the Mongo sink alone (what `squidstream bench streams` reports as "mongo alone":
1,000-event batches one after another), against two private stacks side by side, one per
backend. `drain`: one worker projecting a preloaded topic into all three stores (the bench's
"our worker"), on one private stack whose FerretDB is restarted on the other backend between
runs. Each run prints events/s and the CPU seconds of the Mongo servers (FerretDB, plus every
PostgreSQL process); the order alternates per run, and the load average is printed.
Figures from this machine: stack/servers/postgresql.py.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from squidstream.settings import Settings
from stack import manager, process
from stack.paths import StackPaths
from streams.bench.drain import bench_settings, preload, reproject_from_zero, worker_drain
from streams.bench.stores import _rate, clean_up
from streams.bench.synthetic import synthetic_events
from streams.projection.decode import Event
from streams.sinks.mongo import MongoProjection
from tests.stack.private import private_stack

BATCH = 1000
ON_POSTGRESQL = {"mongo_backend": "postgresql"}
Run = Callable[[Settings], float]
Setup = Callable[[Settings], None]


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def mongo_cpu_s(settings: Settings) -> float:
    """CPU seconds so far of the live processes of FerretDB (and of its PostgreSQL)."""
    ticks = 0
    names = ["ferretdb", "postgresql"] if settings.mongo_backend == "postgresql" else ["ferretdb"]
    for name in names:
        record = process.read_record(StackPaths(settings.data_dir).pid(name))
        for pid in process.group_members(record.pid) if record is not None else ():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def interleaved(
    stacks: dict[str, Settings], run: Run, runs: int, events: int, setup: Setup | None = None
) -> None:
    """`runs` runs per backend, alternating which goes first, each after `setup` (neither
    timed nor counted in the CPU); a summary at the end."""
    rates: dict[str, list[float]] = {name: [] for name in stacks}
    print(f"load at start {load()}", flush=True)
    for index in range(runs):
        order = list(stacks.items())
        for name, settings in order if index % 2 == 0 else reversed(order):
            if setup is not None:
                setup(settings)
            before = mongo_cpu_s(settings)
            rate = run(settings)
            cpu = mongo_cpu_s(settings) - before
            rates[name].append(rate)
            print(
                f"run {index + 1} {name}: {rate:,.0f} events/s, Mongo servers' CPU {cpu:.1f} s"
                f" = {cpu * 1e6 / events:.0f} us/event (load {load()})",
                flush=True,
            )
    for name, seen in rates.items():
        median = sorted(seen)[len(seen) // 2]
        print(f"{name}: {', '.join(f'{r:,.0f}' for r in seen)}; median {median:,.0f}")
    ratios = [pg / lite for pg, lite in zip(rates["postgresql"], rates["sqlite"], strict=True)]
    print(f"postgresql / sqlite per run: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"load at end {load()}")


async def lane_rate(settings: Settings, events: list[Event]) -> float:
    projection = await MongoProjection.open(settings)
    try:
        return await _rate(projection, events, BATCH)
    finally:
        await projection.reset()
        await projection.close()


def lane(count: int, runs: int) -> None:
    events = synthetic_events(count, seed=1)
    with (
        private_stack(["ferretdb"]) as lite,
        private_stack(["postgresql", "ferretdb"], overrides=ON_POSTGRESQL) as pg,
    ):
        stacks = {"sqlite": lite, "postgresql": pg}
        interleaved(stacks, lambda s: asyncio.run(lane_rate(s, events)), runs, count)


def drain(count: int, runs: int) -> None:
    servers = ["redis", "mariadb", "kafka", "postgresql", "ferretdb"]
    with private_stack(servers, overrides=ON_POSTGRESQL) as pg:
        lite = pg.model_copy(update={"mongo_backend": "sqlite"})
        tag = uuid.uuid4().hex[:8]
        log_dir = pg.data_dir / "bench"
        log_dir.mkdir()
        benched = {"sqlite": bench_settings(lite, tag), "postgresql": bench_settings(pg, tag)}
        serving = [pg]

        def setup(settings: Settings) -> None:
            if settings.mongo_backend != serving[0].mongo_backend:
                manager.down(serving[0], ["ferretdb"], report=lambda _: None)
                manager.up(settings, ["ferretdb"], report=lambda _: None)
                serving[0] = settings
            asyncio.run(reproject_from_zero(benched[settings.mongo_backend]))

        def run(settings: Settings) -> float:
            return asyncio.run(worker_drain(benched[settings.mongo_backend], count, log_dir))

        asyncio.run(preload(benched["postgresql"], synthetic_events(count, seed=1)))
        # Discarded: the first drain creates the group, the changelogs and the offsets topic.
        asyncio.run(worker_drain(benched["postgresql"], count, log_dir))
        interleaved({"sqlite": lite, "postgresql": pg}, run, runs, count, setup)
        asyncio.run(clean_up(benched["postgresql"], benched["postgresql"].faust_app_id))


def main(argv: list[str]) -> None:
    mode, count, runs = [*argv, *["lane", "40000", "3"][len(argv) :]]
    {"lane": lane, "drain": drain}[mode](int(count), int(runs))


if __name__ == "__main__":
    main(sys.argv[1:])
