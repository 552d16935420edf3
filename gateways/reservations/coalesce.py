"""Merge concurrent batch calls into one: while one call runs, the next one fills.

Two hundred unary Play calls in flight would otherwise each make their own Redis round
trips (and exhaust the connection pool); merged, they cost one script call per round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - an item in
O = TypeVar("O")  # noqa: E741 - its result out

Waiting = tuple[Sequence[I], "asyncio.Future[list[O]]"]


class Coalescer(Generic[I, O]):
    """Runs `call(items) -> one result per item` for every waiting caller at once, in turn."""

    def __init__(self, call: Callable[[list[I]], Awaitable[list[O]]], max_items: int) -> None:
        self._call = call
        self._max_items = max_items
        self._waiting: list[Waiting[I, O]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[I]) -> list[O]:
        """The results for `items`, in order; the call's exception if it failed."""
        future: asyncio.Future[list[O]] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, future))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                await self._run_one(self._take())
        finally:
            self._runner = None

    def _take(self) -> list[Waiting[I, O]]:
        """Callers in arrival order up to max_items (always at least one)."""
        count, taken = 0, 0
        for items, _ in self._waiting:
            if taken and count + len(items) > self._max_items:
                break
            count, taken = count + len(items), taken + 1
        batch, self._waiting = self._waiting[:taken], self._waiting[taken:]
        return batch

    async def _run_one(self, batch: list[Waiting[I, O]]) -> None:
        try:
            results = await self._call([item for items, _ in batch for item in items])
        except Exception as exc:  # every caller of this batch gets the error, the next go on
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for items, future in batch:
            if not future.done():  # a caller that gave up (cancelled) is skipped
                future.set_result(results[start : start + len(items)])
            start += len(items)

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
