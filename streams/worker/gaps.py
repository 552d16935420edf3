"""Offsets a batch should have held but does not: found per partition, read from the log.

Faust's consumer can commit offsets it never handed to the agent: in the fault suite a
restarted worker's first batch began at offset 97 where the stores held 42. Seen in Faust
0.15.3: its fetcher runs during table recovery, and after "Seek stream partitions to
committed offsets" the next record already fetched (63, where 1 was committed) makes it
record offsets 2..63 as a "gap", which it counts as acknowledged; the records fetched again
after the seek are then dropped as already read.

The stores notice a batch that starts past their tracking record and catch up from the log,
but the tables only count what they are given. So before a batch is projected, its records
are compared with where the partition's last batch ended (or, first, with the tables' own
position), and what is missing is read from the log. The position is confirmed before any
acknowledgement, so it never trails the committed offset; it does after a flush that
skipped a partition moving to another worker, whose acknowledgements Faust may still commit
if the partition comes back.

- `DeliveryCheck.holes` finds the ranges missing before and inside a batch;
- `read_missing` reads them; `with_records` merges records into a batch's, in log order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.projection.batch import Record
from streams.projection.log_reader import read_ranges

# (partition, the batch's Faust events) -> the offset after the last record the tables hold
# for it; the events let a table read the right partition of an on-disk store.
StartOf = Callable[[int, Sequence[Any]], int]


@dataclass
class Holes:
    """Ranges `[start, end)` of offsets missing from a batch, per partition."""

    # Before the batch's first record of a partition: the records fill whole batches of
    # their own, projected first.
    before: dict[int, tuple[int, int]] = field(default_factory=dict)
    # Between two records of the batch: read into the batch itself, in log order.
    inside: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.before or self.inside)

    @property
    def records(self) -> int:
        """How many offsets the holes span."""
        spans = [*self.before.values(), *(r for ranges in self.inside.values() for r in ranges)]
        return sum(end - start for start, end in spans)

    def describe(self) -> str:
        parts = [f"{p}: {a}..{b - 1}" for p, (a, b) in sorted(self.before.items())]
        parts += [f"{p}: {a}..{b - 1}" for p, rs in sorted(self.inside.items()) for a, b in rs]
        return ", ".join(parts)


class DeliveryCheck:
    """Where each partition's delivered records have reached in this worker's session."""

    def __init__(self, start_of: StartOf) -> None:
        self._start_of = start_of
        self._next: dict[int, int] = {}

    def forget(self) -> None:
        """After a rebalance: partitions may have moved on, so start again from the tables."""
        self._next.clear()

    def holes(self, records: Iterable[Record], handles: Sequence[Any] = ()) -> Holes:
        """The offsets missing before and inside `records`; counts them as delivered.

        An offset below what was delivered already is a re-delivery (Faust seeks back to the
        committed offset after a rebalance), never a hole.
        """
        found = Holes()
        reached: dict[int, int] = {}
        seen: set[int] = set()
        for record in records:
            partition = record.partition
            expected = reached.get(partition)
            if expected is None:
                expected = self._next.get(partition)
                if expected is None:
                    expected = self._start_of(partition, handles)
            if record.offset > expected:
                if partition in seen:
                    found.inside.setdefault(partition, []).append((expected, record.offset))
                else:
                    found.before[partition] = (expected, record.offset)
            seen.add(partition)
            reached[partition] = max(expected, record.offset + 1)
        self._next.update(reached)
        return found


def read_missing(
    consumer: AIOKafkaConsumer, topic: str, ranges: dict[int, tuple[int, int]], batch_size: int
) -> AsyncIterator[list[Record]]:
    """The records of `ranges`, in batches of at most `batch_size`, in log order."""
    wanted = {TopicPartition(topic, p): bounds for p, bounds in ranges.items()}
    return read_ranges(consumer, wanted, batch_size)


def spanning(inside: dict[int, list[tuple[int, int]]]) -> dict[int, tuple[int, int]]:
    """One range per partition from its first hole to its last (records between included)."""
    return {p: (ranges[0][0], ranges[-1][1]) for p, ranges in inside.items()}


def with_records(records: Sequence[Record], more: Iterable[Record]) -> list[Record]:
    """`records` and `more`, each log position once, in log order per partition."""
    at = {(r.partition, r.offset): r for r in records}
    for record in more:
        at.setdefault((record.partition, record.offset), record)
    return [at[position] for position in sorted(at)]
