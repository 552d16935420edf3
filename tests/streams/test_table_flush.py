"""Events are acknowledged only after the brokers confirm their table writes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.bench.synthetic import synthetic_events
from streams.projection.batch import Batch
from streams.worker.projection_agent import TableFlush
from streams.worker.tables import Tables
from tests.streams.test_tables import FakeTable, committed


class SendingTable(FakeTable):
    """A fake table whose every write is a changelog send the test confirms by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[asyncio.Future[None]] = []  # kept; confirm_writes empties unconfirmed

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        send: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.unconfirmed.append(send)
        self.sent.append(send)


class Message:
    def __init__(self, partition: int) -> None:
        self.partition = partition


class Handle:
    """What the agent acknowledges: a Faust event, here only its message's partition."""

    def __init__(self, name: str, partition: int = 0) -> None:
        self.name = name
        self.message = Message(partition)

    def __repr__(self) -> str:
        return self.name


class FakeAgent:
    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.done_batches: list[Batch] = []

    def done(self, batch: Batch) -> None:
        self.done_batches.append(batch)

    def owned(self) -> set[int]:
        return {0}


class FakeStream:
    def __init__(self) -> None:
        self.acked: list[object] = []

    async def ack(self, event: object) -> None:
        self.acked.append(event)


def sending_tables() -> Tables:
    counters = {
        name: SendingTable()
        for name in ("player_wins", "game_sizes", "game_counts", "route_counts")
    }
    return Tables(counters, SendingTable(), SendingTable(), SendingTable())  # type: ignore[arg-type]


def sends_of(tables: Tables) -> list[asyncio.Future[None]]:
    return [send for table in tables.all for send in table.sent]  # type: ignore[attr-defined]


async def flushing(
    events: int, seed: int, handles: list[Handle]
) -> tuple[Tables, FakeStream, asyncio.Task[None]]:
    """A flush of one committed batch, started and left waiting on its changelog sends."""
    tables = sending_tables()
    stream = FakeStream()
    flush = TableFlush(FakeAgent(tables), stream, lambda exc: None)  # type: ignore[arg-type]
    batch = committed(synthetic_events(events, seed=seed), 0)
    batch.handles = handles
    flush.pending.append(batch)
    task = asyncio.create_task(flush.flush())
    await asyncio.sleep(0.05)
    return tables, stream, task


@pytest.mark.asyncio
async def test_a_flush_acks_nothing_until_every_changelog_send_is_confirmed() -> None:
    handles = [Handle("handle-1"), Handle("handle-2")]
    tables, stream, task = await flushing(20, 9, handles)
    sends = sends_of(tables)
    assert sends, "the batch wrote table keys"
    assert stream.acked == []  # written, not yet confirmed: nothing acknowledged
    for send in sends[:-1]:
        send.set_result(None)
    await asyncio.sleep(0.05)
    assert stream.acked == []  # one send is still unconfirmed
    sends[-1].set_result(None)
    await asyncio.sleep(0.05)
    # The keys are confirmed; now the table position is written, and confirmed before the acks.
    position = tables.positions.sent  # type: ignore[attr-defined]
    assert len(position) == 1
    assert stream.acked == []
    position[0].set_result(None)
    await asyncio.wait_for(task, 1)
    assert stream.acked == handles
    assert tables.positions == {"0": 20}


@pytest.mark.asyncio
async def test_a_failed_changelog_send_acks_nothing_and_fails_the_flush() -> None:
    tables, stream, task = await flushing(5, 10, [Handle("handle")])
    for send in sends_of(tables):
        send.set_exception(OSError("broker gone"))
    with pytest.raises(OSError, match="broker gone"):
        await asyncio.wait_for(task, 1)
    assert stream.acked == []
