"""Real workers, no worker list: the views find them on the workers topic, gather whole tables
from every owner, route one key to its partitions' owners, and follow 1 -> 2 -> 1 workers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from squidstream.settings import Settings
from squidstream.topics import ensure_topics
from streams.bench.synthetic import synthetic_events
from streams.projection.decode import Event
from tests.helpers import isolated_settings
from tests.streams.streams_harness import expected, produce, worker
from tests.views.seed import drop_all
from views.app import create_app

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.timeout(420)]
PARTITIONS = list(range(4))
COUNTERS = {"player_wins": "wins", "game_sizes": "sizes", "game_counts": "games"}
Body = dict[str, Any]


@pytest_asyncio.fixture
async def discovery(stack: Settings) -> AsyncIterator[Settings]:
    settings = isolated_settings(stack, "vdisc")
    assert "WORKER_URLS" not in " ".join(settings.as_env())
    await ensure_topics(settings, {settings.events_topic: settings.events_partitions})
    yield settings
    await drop_all(settings)


async def until(
    api: httpx.AsyncClient, path: str, ok: Callable[[Body], bool], timeout_s: float = 120
) -> Body:
    """Poll the views until an answer satisfies `ok`; fail with the last answer."""
    deadline = time.monotonic() + timeout_s
    body: Body = {}
    while time.monotonic() < deadline:
        response = await api.get(path)
        body = response.json()
        if response.status_code == 200 and ok(body):
            return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"{path} never settled; last answer: {body}")


def answered_by(body: Body) -> dict[str, list[int]]:
    return {w["url"]: w["partitions"] for w in body["workers"] if w["ok"]}


def settled(workers: int, total: int) -> Callable[[Body], bool]:
    """Every partition counted once, by `workers` workers, holding `total` games."""

    def check(body: Body) -> bool:
        complete = body["coverage"]["complete"] and len(answered_by(body)) == workers
        return bool(complete and body["events"] == total)

    return check


def assert_exact(body: Body, events: list[Event]) -> None:
    want = expected(events)
    for table, name in COUNTERS.items():
        assert body["tables"][table] == want[name], table
    assert body["tables"]["route_counts"] == want["routes"]
    assert sum(body["tables"]["player_wins"].values()) == len(events)
    owned = sorted(p for parts in answered_by(body).values() for p in parts)
    assert owned == PARTITIONS, "each partition counted exactly once"
    top = Counter({int(p): w for p, w in want["wins"].items()})
    best = sorted(top.items(), key=lambda x: (-x[1], x[0]))[:10]
    assert [(p["player"], p["wins"]) for p in body["top_players"]] == best
    assert body["freshness"]["as_of_ms"] > 0


async def flood(settings: Settings, sent: list[Event], count: int, seed: int) -> None:
    batch = synthetic_events(count, seed=seed)
    await produce(settings, batch)
    sent.extend(batch)


@pytest.mark.asyncio
async def test_one_two_one_workers_are_found_and_answer_exactly_at_each_step(
    discovery: Settings, tmp_path: Path
) -> None:
    second = discovery.model_copy(update={"faust_web_port": discovery.faust_web_port + 1})
    app = create_app(discovery, live_interval_s=1.0)
    sent: list[Event] = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://views") as api,
    ):
        with worker(discovery, tmp_path, "one"):
            await flood(discovery, sent, 500, seed=1)
            alone = await until(api, "/api/tables", settled(1, len(sent)))
            assert_exact(alone, sent)
            with worker(second, tmp_path, "two"):
                await flood(discovery, sent, 700, seed=2)
                shared = await until(api, "/api/tables", settled(2, len(sent)), 180)
                assert_exact(shared, sent)
                await one_player_from_the_owners(api, sent, shared)
            await flood(discovery, sent, 300, seed=3)
            back = await until(api, "/api/tables", settled(1, len(sent)), 180)
            assert_exact(back, sent)
    assert sorted(len(p) for p in answered_by(shared).values()) == [2, 2]
    assert list(answered_by(alone).values()) == [PARTITIONS] == list(answered_by(back).values())


async def one_player_from_the_owners(
    api: httpx.AsyncClient, sent: list[Event], tables: Body
) -> None:
    """The player's wins come from both workers, each answering for the partitions it owns."""
    wins = Counter(e.winner for e in sent)
    player, count = wins.most_common(1)[0]
    body = (await api.get(f"/api/tables/player_wins/{player}")).json()
    assert body["value"] == count
    assert body["coverage"]["complete"]
    by_worker = answered_by(body)
    assert by_worker == answered_by(tables), "the owners the whole-table report asked"
    assert sorted(p for parts in by_worker.values() for p in parts) == PARTITIONS
    assert len(by_worker) == 2
    assert sum(body["values"].values()) == count
    missing = await api.get(f"/api/tables/player_wins/{max(wins) + 1000}")
    assert missing.status_code == 404
    assert (await api.get("/api/tables/no_such_table/1")).status_code == 422
