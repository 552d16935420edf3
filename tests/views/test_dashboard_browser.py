"""The dashboard in Debian's headless Chromium: reports, player search, counts rising live."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Page, async_playwright

from squidstream.settings import PROJECT_ROOT
from tests.helpers import free_port
from tests.views.pipeline import Pipeline, wait_until_projected
from tests.views.seed import SeedGame
from views.app import create_app
from views.routes.dashboard import CHART_JS

pytestmark = [pytest.mark.stack, pytest.mark.slow, pytest.mark.timeout(400)]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = PROJECT_ROOT / "docs" / "dashboard.png"
FLOOD_CHUNKS, CHUNK = 16, 400


@pytest.fixture
def served(pipeline: Pipeline) -> Iterator[str]:
    """The views app under uvicorn on a free loopback port, in a background thread."""
    if not CHROMIUM.exists() or not CHART_JS.exists():
        pytest.fail("needs /usr/bin/chromium (apt-get install chromium) and `npm ci` in views/")
    port = free_port()
    config = uvicorn.Config(
        create_app(pipeline.settings, live_interval_s=0.5),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="views-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest_asyncio.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield await browser.new_page(viewport={"width": 1440, "height": 1000})
        finally:
            await browser.close()


async def _count(page: Page, element_id: str) -> int:
    return int((await page.text_content(f"#{element_id}") or "0").replace(",", "") or 0)


async def _wait_count(page: Page, element_id: str, *, above: int = -1, equal: int = -1) -> None:
    """Until the number shown in an element passes `above` or equals `equal`."""
    await page.wait_for_function(
        """([id, above, equal]) => {
            const n = Number(document.getElementById(id).textContent.replace(/,/g, ""));
            return equal >= 0 ? n === equal : n > above;
        }""",
        arg=[element_id, above, equal],
    )


async def _flood(pipeline: Pipeline) -> None:
    """A bounded flood: a chunk of games every half second."""
    for _ in range(FLOOD_CHUNKS):
        await pipeline.produce(pipeline.games(CHUNK))
        await asyncio.sleep(0.5)


async def _reports_shown(page: Page) -> None:
    await page.wait_for_selector("#live-status.on")
    for table in ("sql-top", "redis-top", "sql-last", "redis-last"):
        await page.wait_for_function(
            "id => document.querySelectorAll(`#${id} tbody tr`).length === 10", arg=table
        )
    await page.wait_for_function("document.querySelectorAll('#audit-table tbody tr').length > 0")


async def _search_player(page: Page, player: int) -> None:
    await page.fill("#player-input", str(player))
    await page.click("#player-search")


async def _chart_data(page: Page, chart: str) -> list[float]:
    data: list[float] = await page.evaluate("id => Chart.getChart(id).data.datasets[0].data", chart)
    return data


@pytest.mark.asyncio
async def test_the_dashboard_shows_reports_searches_players_and_counts_rise_under_a_flood(
    pipeline: Pipeline, served: str, page: Page
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    async with httpx.AsyncClient(base_url=served, timeout=10) as api:
        await pipeline.produce(pipeline.games(500))
        await wait_until_projected(api, pipeline)
        await page.goto(served)
        await _reports_shown(page)
        before = await _count(page, "total-redis")
        assert before == len(pipeline.produced)

        flood = asyncio.create_task(_flood(pipeline))
        await _wait_count(page, "total-redis", above=before)
        await _search_player(page, 3)
        await page.wait_for_selector("#player-sql [data-stat=played] b")
        await page.wait_for_function(
            "Chart.getChart('chart-rate').data.datasets[0].data.filter(v => v > 0).length >= 5"
        )
        await page.screenshot(path=str(SCREENSHOT), full_page=True)
        await flood
        await wait_until_projected(api, pipeline)

    games = pipeline.produced
    await _wait_count(page, "total-sql", equal=len(games))
    await _search_player(page, 3)
    for store in ("redis", "sql"):
        await _wait_count(page, f"player-{store}-played", equal=sum(g.players >= 3 for g in games))
    assert await _count(page, "player-redis-won") == sum(g.winner == 3 for g in games)
    assert len(await _chart_data(page, "chart-top-games")) == 3
    await page.wait_for_function(
        "n => Chart.getChart('chart-routes').data.datasets[0].data.reduce((a, b) => a + b) === n",
        arg=len(games),
    )
    await _faust_tables_shown(page, games)
    assert errors == []
    assert SCREENSHOT.stat().st_size > 10_000


async def _faust_tables_shown(page: Page, games: list[SeedGame]) -> None:
    """The Faust tables panel: a leaderboard, routes and a live chart; no JSON dump."""
    await page.wait_for_function(
        "n => document.getElementById('faust-events').textContent.replace(/,/g, '') === String(n)",
        arg=len(games),
    )
    rows: list[list[str]] = await page.eval_on_selector_all(
        "#faust-top tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    wins = Counter(g.winner for g in games)
    best = sorted(wins.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert [(int(r[1]), int(r[2].replace(",", ""))) for r in rows] == best
    routes = await _chart_data(page, "chart-faust-routes")
    assert sum(routes) == len(games)
    await page.wait_for_function(
        "Chart.getChart('chart-faust-live').data.datasets.some(d => d.data.some(v => v > 0))"
    )
    panel = await page.text_content("#tables") or ""
    assert "{" not in panel
    assert await page.query_selector("#tables pre") is None
