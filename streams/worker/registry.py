"""Each worker announces its URL and assigned partitions on the workers topic.

Every few seconds, and right after each rebalance, a worker sends
`{"url", "partitions", "at_ms"}` keyed by its URL to `squidstream.topics.workers_topic`; on a
clean stop it sends a tombstone. The partitions are those Faust's assignor gave this worker,
so a reader (the views) knows who owns which partition as soon as a rebalance settles, and a
worker that died silently ages out after ANNOUNCE_TTL_S.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, cast

import faust

from squidstream.settings import Settings
from squidstream.topics import WORKERS_ANNOUNCE_TTL_S, workers_topic

log = logging.getLogger(__name__)
ANNOUNCE_EVERY_S = 2.0
# Readers ignore announcements older than this (docs/stores.md).
ANNOUNCE_TTL_S = WORKERS_ANNOUNCE_TTL_S


def worker_url(settings: Settings) -> str:
    return f"http://{settings.faust_advertised_host}:{settings.faust_web_port}"


def announcement(url: str, partitions: set[int], now_ms: int) -> bytes:
    return json.dumps({"url": url, "partitions": sorted(partitions), "at_ms": now_ms}).encode()


class Registry:
    """Sends this worker's announcements through the app's producer."""

    def __init__(self, app: faust.App, settings: Settings, owned: Callable[[], set[int]]) -> None:
        self.app = app
        self.url = worker_url(settings)
        self.owned = owned
        self.topic = app.topic(
            workers_topic(settings), key_serializer="raw", value_serializer="raw"
        )

    async def announce(self) -> None:
        now_ms = time.time_ns() // 1_000_000
        value = announcement(self.url, self.owned(), now_ms)
        await self.topic.send(key=self.url.encode(), value=value)

    async def withdraw(self) -> None:
        await self.topic.send(key=self.url.encode(), value=None)

    def register(self) -> None:
        app = self.app

        async def announce_periodically() -> None:
            await self.announce()

        app.timer(ANNOUNCE_EVERY_S)(announce_periodically)

        async def announce_assignment(sender: Any, *args: Any, **kwargs: Any) -> None:
            await self.announce()

        async def withdraw_on_stop(sender: Any, *args: Any, **kwargs: Any) -> None:
            # The consumer has stopped; the producer is flushed right after this signal.
            try:
                await self.withdraw()
            except Exception as exc:  # a broker that is down: readers age the entry out
                log.warning("could not withdraw %s from the registry: %s", self.url, exc)

        # mode's signal types do not admit coroutine functions, which it does call and await.
        app.on_rebalance_complete.connect(cast(Any, announce_assignment))
        app.on_before_shutdown.connect(cast(Any, withdraw_on_stop))
