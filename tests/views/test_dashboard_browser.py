"""The dashboard in Debian's headless Chromium: reports, player search, counts rising live."""

from __future__ import annotations

import asyncio
import threading
import time
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
        timeout_graceful_shutdown=1,
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


async def _count(page: Page, selector: str) -> int:
    return int((await page.text_content(selector) or "0").replace(",", "") or 0)


async def _flood(pipeline: Pipeline) -> None:
    """A bounded flood: a chunk of games every half second."""
    for _ in range(FLOOD_CHUNKS):
        await pipeline.produce(pipeline.games(CHUNK))
        await asyncio.sleep(0.5)


@pytest.mark.asyncio
async def test_the_dashboard_shows_reports_searches_players_and_counts_rise_under_a_flood(
    pipeline: Pipeline, served: str, page: Page
) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=10) as api:
        await pipeline.produce(pipeline.games(500))
        await wait_until_projected(api, pipeline)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(served)

        await page.wait_for_selector("#live-status.on")
        await page.wait_for_function("document.querySelectorAll('#sql-top tbody tr').length == 10")
        await page.wait_for_function(
            "document.querySelectorAll('#redis-top tbody tr').length == 10"
        )
        await page.wait_for_function("document.querySelectorAll('#audit-table tbody tr').length")
        before = await _count(page, "#total-redis")
        assert before == len(pipeline.produced)

        flood = asyncio.create_task(_flood(pipeline))
        await page.wait_for_function(
            f"Number(document.getElementById('total-redis').textContent.replace(/,/g, '')) > {before}"
        )
        await page.fill("#player-input", "3")
        await page.click("#player-search")
        await page.wait_for_selector("#player-sql [data-stat=played] b")
        await page.wait_for_function(
            "Chart.getChart('chart-rate').data.datasets[0].data.some(v => v > 0)"
        )
        await page.screenshot(path=str(SCREENSHOT), full_page=True)
        await flood
        await wait_until_projected(api, pipeline)

        await page.click("#player-search")
        games = pipeline.produced
        played = sum(g.players >= 3 for g in games)
        for store in ("redis", "sql"):
            await page.wait_for_function(
                f"document.querySelector('#player-{store} [data-stat=played] b')"
                f".textContent.replace(/,/g, '') == '{played}'"
            )
        won = await page.text_content("#player-redis [data-stat=won] b")
        assert int((won or "").replace(",", "")) == sum(g.winner == 3 for g in games)
        await page.wait_for_function(
            f"Number(document.getElementById('total-sql').textContent.replace(/,/g, '')) == {len(games)}"
        )
        top_games = await page.evaluate("Chart.getChart('chart-top-games').data.datasets[0].data")
        routes = await page.evaluate("Chart.getChart('chart-routes').data.datasets[0].data")

    assert len(top_games) == 3
    assert sum(routes) == len(games)
    assert errors == []
    assert SCREENSHOT.stat().st_size > 10_000
