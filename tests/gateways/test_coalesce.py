"""Concurrent batch calls merge into one call while the previous one runs."""

from __future__ import annotations

import asyncio

import pytest

from gateways.reservations.coalesce import Coalescer


class Recorder:
    """A batch call that doubles its items, records each call and waits for the test's gate."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail = False

    async def __call__(self, items: list[int]) -> list[int]:
        self.calls.append(items)
        self.entered.set()
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("store down")
        return [2 * item for item in items]


@pytest.mark.asyncio
async def test_callers_arriving_during_a_call_share_the_next_one_with_their_own_results() -> None:
    call = Recorder()
    coalescer = Coalescer(call, max_items=100)
    first = asyncio.create_task(coalescer.submit([1]))
    await call.entered.wait()  # the first call runs and holds the gate
    others = [asyncio.create_task(coalescer.submit([n, n + 1])) for n in (10, 20, 30)]
    # Tasks start in creation order: the three callers queue before the gate opens.
    opener = asyncio.create_task(_open(call.gate))
    assert await first == [2]
    assert [await task for task in others] == [[20, 22], [40, 42], [60, 62]]
    assert call.calls == [[1], [10, 11, 20, 21, 30, 31]]
    await opener


async def _open(gate: asyncio.Event) -> None:
    gate.set()


@pytest.mark.asyncio
async def test_a_call_never_takes_more_than_max_items_unless_one_caller_brings_them() -> None:
    call = Recorder()
    call.gate.set()
    coalescer = Coalescer(call, max_items=3)
    results = await asyncio.gather(*(coalescer.submit([n, n]) for n in range(3)))
    assert results == [[0, 0], [2, 2], [4, 4]]
    assert [len(items) for items in call.calls] == [2, 2, 2]


@pytest.mark.asyncio
async def test_a_failed_call_fails_its_callers_and_the_next_call_still_runs() -> None:
    call = Recorder()
    call.gate.set()
    call.fail = True
    coalescer = Coalescer(call, max_items=10)
    with pytest.raises(RuntimeError, match="store down"):
        await coalescer.submit([1])
    call.fail = False
    assert await coalescer.submit([4]) == [8]
