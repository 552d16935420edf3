"""Apply each batch to all projections in parallel, retrying with backoff until it sticks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from squidstream.settings import Settings
from streams.decode import Event
from streams.sinks import Projection
from streams.sinks.mongo import MongoProjection
from streams.sinks.redis import RedisProjection
from streams.sinks.sql import SqlProjection

log = logging.getLogger(__name__)
FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 10.0


async def open_projections(settings: Settings) -> list[Projection]:
    """Open the SQL, Redis and Mongo projections; close what opened if one fails."""
    opened: list[Projection] = []
    try:
        for opener in (SqlProjection.open, RedisProjection.open, MongoProjection.open):
            opened.append(await opener(settings))
    except BaseException:
        await close_projections(opened)
        raise
    return opened


async def open_projections_retrying(settings: Settings) -> list[Projection]:
    """Like open_projections, but waits for stores that are down at worker start."""
    delay = FIRST_BACKOFF_S
    while True:
        try:
            return await open_projections(settings)
        except Exception as exc:  # any store failure is retried, never fatal
            log.warning("projections not ready (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)


async def close_projections(projections: Sequence[Projection]) -> None:
    for projection in projections:
        try:
            await projection.close()
        except Exception as exc:  # closing must not hide the original error
            log.warning("closing %s failed: %s", projection.name, exc)


class Projector:
    """Writes batches to every projection; returns only when all of them hold the batch."""

    def __init__(self, projections: Sequence[Projection]) -> None:
        self.projections = list(projections)
        self.applied_events = 0
        self.failed_attempts = 0

    async def apply(self, batch: Sequence[Event]) -> None:
        """Retry the whole batch until every store took it (each store is idempotent)."""
        if not batch:
            return
        pending = list(self.projections)
        delay = FIRST_BACKOFF_S
        while pending:
            results = await asyncio.gather(
                *(projection.apply(batch) for projection in pending), return_exceptions=True
            )
            failed = [p for p, r in zip(pending, results, strict=True) if isinstance(r, Exception)]
            for projection, result in zip(pending, results, strict=True):
                if isinstance(result, BaseException) and not isinstance(result, Exception):
                    raise result
                if isinstance(result, Exception):
                    log.warning("%s failed (%s); retrying in %.1fs", projection.name, result, delay)
            pending = failed
            if pending:
                self.failed_attempts += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
        self.applied_events += len(batch)

    async def reset(self) -> None:
        for projection in self.projections:
            await projection.reset()

    async def close(self) -> None:
        await close_projections(self.projections)
