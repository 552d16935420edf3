"""The read API and dashboard: `create_app(settings)` builds one FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from squidstream.http_auth import BearerTokenMiddleware
from squidstream.http_metrics import RequestMetricsMiddleware
from squidstream.settings import Settings, get_settings
from views.errors import BadStoreData, LiveFeedFull, StoreUnavailable
from views.live import LiveFeed
from views.metrics import Metrics
from views.models import ErrorBody
from views.resources import open_resources
from views.routes import audit, dashboard, health, live, reports, tables
from views.stores.base import ProjectionCounters

STOP_GRACE_S = 8.0  # longer than any store timeout in resources.py
# What the read token guards: every report. /healthz, /readyz, /metrics and the dashboard's
# files stay open (the page itself holds no data; it sends the token with each API call).
READS = ("/api/",)
DESCRIPTION = (
    "Read-only reports of the squidstream projections. Result reports come from Redis or "
    "SQL (chosen in the path, to compare them side by side), the audit log from MongoDB, "
    "live counts from the Faust workers. Every answer names its `store` and its `freshness`."
)


def create_app(settings: Settings | None = None, *, live_interval_s: float = 1.0) -> FastAPI:
    """Build the app; connections open in its lifespan and close with it."""
    chosen = settings or get_settings()
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await open_resources(chosen)
        resources.mongo_reports.served = metrics.audit_pages
        counters: list[ProjectionCounters] = [
            resources.redis_reports,
            resources.sql_reports,
            resources.mongo_reports,
        ]
        feed = LiveFeed(
            counters,
            resources.redis_reports.routes,
            metrics,
            live_interval_s,
            max_subscribers=chosen.views_live_max_subscribers,
        )
        app.state.resources, app.state.live = resources, feed
        stop = asyncio.Event()
        poller = asyncio.create_task(feed.run(stop), name="views-live-feed")
        # Follows the workers topic: who owns which partition, for the Faust table queries.
        registry = asyncio.create_task(resources.registry.run(stop), name="views-registry")
        try:
            yield
        finally:
            stop.set()
            await _finish(poller)
            await _finish(registry)
            await resources.close()

    app = FastAPI(
        title="squidstream views", version="1.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.metrics = metrics
    if chosen.read_token is not None:
        app.add_middleware(BearerTokenMiddleware, token=chosen.read_token, protected=READS)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(BadStoreData, _bad_store_data)
    app.add_exception_handler(LiveFeedFull, _live_feed_full)
    for module in (reports, audit, tables, live, health, dashboard):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    return app


async def _finish(task: asyncio.Task[None]) -> None:
    # Let the poll in flight end cleanly (a cancelled command can leak its connection);
    # cancel only if a store hangs past the grace period.
    done, _ = await asyncio.wait({task}, timeout=STOP_GRACE_S)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    store = exc.store if isinstance(exc, StoreUnavailable) else None
    body = ErrorBody(detail=str(exc), store=store)
    return JSONResponse(body.model_dump(), status_code=503)


async def _bad_store_data(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(ErrorBody(detail=str(exc)).model_dump(), status_code=502)


async def _live_feed_full(request: Request, exc: Exception) -> JSONResponse:
    # A browser's EventSource gives up on a 503; the dashboard then falls back to polling.
    body = ErrorBody(detail=str(exc))
    return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})
