"""Test-only: a real worker subprocess fed GameEvents on a private topic, for the views tests."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from squidstream.contract import GAMES as GAME_NAMES
from squidstream.contract import event_id_for
from squidstream.launcher import Launched, Probe, wait_ready
from squidstream.settings import Settings
from squidstream.topics import ensure_topics
from streams.bench.drain import start_worker
from streams.bench.synthetic import winner_for
from streams.projection.decode import Event, encode
from tests.helpers import isolated_settings
from tests.views.seed import SeedGame

READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 60.0


def pipeline_settings(stack: Settings) -> Settings:
    """Private topic, queue, consumer group, Redis prefix, databases and worker port."""
    return isolated_settings(stack, "views")


@dataclass
class Pipeline:
    """One worker projecting one private topic; `produced` is every event sent so far."""

    settings: Settings
    process: Launched
    produced: list[SeedGame] = field(default_factory=list)
    _rng: random.Random = field(default_factory=lambda: random.Random(2026))

    def games(self, count: int, max_players: int = 40) -> list[SeedGame]:
        """New distinct games occurring now, a millisecond apart."""
        start, base = len(self.produced), time.time_ns() // 1_000_000
        made = []
        for i in range(count):
            game_id, players = self._rng.randint(1, 5), self._rng.randint(1, max_players)
            made.append(
                SeedGame(
                    event_id=event_id_for(f"{self.settings.redis_prefix}-{start + i}"),
                    request_id=f"{self.settings.redis_prefix}-{start + i}",
                    game_id=game_id,
                    game_name=GAME_NAMES[game_id],
                    players=players,
                    winner=winner_for(game_id, players, self._rng),
                    route=self._rng.choice(["kafka", "rabbitmq"]),
                    gateway_id="views-test",
                    occurred_at_ms=base + i,
                )
            )
        return made

    async def produce(self, games: Sequence[SeedGame]) -> None:
        """Send to the topic as the gateways do: key = event id, value = GameEvent bytes."""
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            sends = [
                await producer.send(self.settings.events_topic, _encode(g), key=g.event_id.encode())
                for g in games
            ]
            await asyncio.gather(*sends)
        finally:
            await producer.stop()
        self.produced.extend(games)

    def check_alive(self) -> None:
        self.process.check_alive()


def _encode(game: SeedGame) -> bytes:
    return encode(Event(**asdict(game)))


def start_pipeline(settings: Settings, log_dir: Path) -> Pipeline:
    """Create the topic and start `faust -A streams.worker.app worker` with SQUID_* for it."""
    asyncio.run(ensure_topics(settings, {settings.events_topic: settings.events_partitions}))
    pipeline = Pipeline(settings, start_worker(settings, log_dir / "worker.log"))
    try:
        wait_ready(pipeline.process, _owns_every_partition(settings), READY_TIMEOUT_S, poll_s=0.5)
    except BaseException:
        stop_pipeline(pipeline)
        raise
    return pipeline


def _owns_every_partition(settings: Settings) -> Probe:
    """Ready once the worker owns every partition: events sent earlier can race its table
    set-up (seen here: PartitionsMismatch for a changelog topic not created yet)."""
    url = f"http://{settings.faust_web_host}:{settings.faust_web_port}/squid/tables/"

    def check() -> bool:
        try:
            owned = httpx.get(url, timeout=2).json().get("partitions", [])
        except (httpx.HTTPError, ValueError):
            return False
        return len(owned) == settings.events_partitions

    return check


def stop_pipeline(pipeline: Pipeline) -> None:
    pipeline.process.stop(STOP_GRACE_S)


async def wait_until_projected(
    api: httpx.AsyncClient, pipeline: Pipeline, timeout_s: float = 180
) -> dict[str, int | None]:
    """Poll the views' live snapshot until Redis, SQL and Mongo each hold every event."""
    want = len(pipeline.produced)
    deadline = time.monotonic() + timeout_s
    events: dict[str, int | None] = {}
    while time.monotonic() < deadline:
        pipeline.check_alive()
        body = (await api.get("/api/live/latest")).json()
        events = body["events"] if body else {}
        if all(events.get(store) == want for store in ("redis", "sql", "mongo")):
            return events
        await asyncio.sleep(0.5)
    raise AssertionError(f"stores hold {events}, expected {want} each")
