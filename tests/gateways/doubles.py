"""Test-only doubles for the gateway: an emitter that holds publishes, watched reservations."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateways.emitters.memory import MemoryEmitter
from gateways.events import Encoded
from gateways.reservations import Claim, Held, Reservations, Verdict
from squidstream.contract import RouteName


class HeldEmitter(MemoryEmitter):
    """Takes events only once `release` is set; `entered` tells a publish is waiting."""

    def __init__(self, route: RouteName = "kafka", *, released: bool = False) -> None:
        super().__init__(route)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        if released:
            self.release.set()

    async def emit_many(self, events: Sequence[Encoded]) -> None:
        self.entered.set()
        await self.release.wait()
        await super().emit_many(events)


class WatchedReservations:
    """Any reservation store, with `waiting` set once a reserve finds another's live lease."""

    def __init__(self, inner: Reservations) -> None:
        self.inner = inner
        self.waiting = asyncio.Event()

    async def reserve(self, claims: Sequence[Claim]) -> list[Held]:
        held = await self.inner.reserve(claims)
        if any(found.verdict is Verdict.PENDING for found in held):
            self.waiting.set()
        return held

    async def accept(self, request_ids: Sequence[str]) -> int:
        return await self.inner.accept(request_ids)

    async def release(self, request_ids: Sequence[str], *, maybe_sent: bool) -> None:
        await self.inner.release(request_ids, maybe_sent=maybe_sent)

    async def healthy(self) -> bool:
        return await self.inner.healthy()

    async def close(self) -> None:
        await self.inner.close()
