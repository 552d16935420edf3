"""`make soak`: a long flood with several faults in a row, in a seeded random order.

At least 10 minutes by default (SQUID_SOAK_S, SQUID_SOAK_SEED); ends with the same check as
the fault suite: every store and table equals what clients were told was accepted.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from squidstream.settings import Settings
from tests.faults.harness import Flood, Pipeline, check, pipeline_settings, probe_visible, settle
from tests.faults.test_faults import (
    gateway_restarted,
    poison_on_topic_and_queue,
    server_killed_and_restarted,
    server_stopped,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.soak, pytest.mark.timeout(7200)]
SOAK_S = float(os.environ.get("SQUID_SOAK_S", "600"))
SEED = int(os.environ.get("SQUID_SOAK_SEED", "2021"))
PAUSE_S = (20.0, 40.0)  # flood alone between two faults


def worker_bounced(index: int) -> Callable[[Pipeline, Settings], Awaitable[None]]:
    async def inject(p: Pipeline, stack: Settings) -> None:
        p.kill_worker(index)
        await asyncio.sleep(3)
        await p.start_worker(index)

    return inject


SOAK_FAULTS: dict[str, Callable[[Pipeline, Settings], Awaitable[None]]] = {
    "SIGKILL worker 1, restart": worker_bounced(0),
    "SIGKILL worker 2, restart": worker_bounced(1),
    "SIGKILL + restart Kafka": server_killed_and_restarted("kafka"),
    "SIGKILL + restart RabbitMQ": server_killed_and_restarted("rabbitmq"),
    "SIGKILL + restart Redis": server_killed_and_restarted("redis"),
    "SIGKILL + restart MariaDB": server_killed_and_restarted("mariadb"),
    "SIGKILL + restart FerretDB": server_killed_and_restarted("ferretdb"),
    "SIGSTOP MariaDB 20 s": server_stopped("mariadb", 20),
    "SIGSTOP FerretDB 20 s": server_stopped("ferretdb", 20),
    "SIGKILL the Kafka gateway, restart": gateway_restarted,
    "poison on topic and queue": poison_on_topic_and_queue,
}


@pytest.mark.asyncio
async def test_a_long_flood_through_faults_in_random_order_ends_exact(
    fault_stack: Settings, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    settings = pipeline_settings(fault_stack, "soak", (50, 50))
    pipeline = Pipeline(settings, tmp_path, workers=2)
    applied: list[dict[str, Any]] = []
    supervisor: asyncio.Task[None] | None = None
    try:
        await pipeline.start()
        flood = Flood(pipeline.ingress_url, seed=SEED)
        stop, supervising = asyncio.Event(), asyncio.Event()
        flooding = asyncio.create_task(flood.run(stop))
        supervisor = asyncio.create_task(pipeline.supervise(supervising))
        ends = time.monotonic() + SOAK_S
        names = list(SOAK_FAULTS)
        while time.monotonic() < ends:
            await asyncio.sleep(rng.uniform(*PAUSE_S))
            name = rng.choice(names)
            started = time.monotonic()
            await SOAK_FAULTS[name](pipeline, fault_stack)
            recover_s = await probe_visible(flood, settings)
            applied.append(
                {
                    "fault": name,
                    "at_s": round(started - ends + SOAK_S),
                    "recover_s": round(recover_s, 1),
                }
            )
            print(f"soak: {name} -> visible again after {recover_s:.1f}s", flush=True)
        stop.set()
        await flooding
        await flood.resolve()
        workers = [pipeline.worker_settings(i) for i in range(2)]
        seen = await settle(settings, workers, len(flood.first), timeout_s=300)
        supervising.set()
        await supervisor
        counts = check(flood, seen)
    finally:
        if supervisor is not None:  # or it restarts the workers stop() stops (test_faults)
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        pipeline.stop()
    print(
        f"soak totals (seed {SEED}, {SOAK_S:.0f}s): accepted {len(flood.first)}, "
        f"refused invalid {len(flood.invalid)}, statuses {dict(flood.statuses)}, {counts}"
    )
    for row in applied:
        print(f"  {row}")
    assert len(applied) >= 3, "a soak applies several faults"
