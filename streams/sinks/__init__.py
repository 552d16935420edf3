"""The projection port: every store applies a whole batch once, tracked by offset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from streams.projection.batch import Batch
from streams.projection.decode import Event


class Projection(Protocol):
    """A store that batches are projected into, exactly once.

    `apply` writes `batch.canonical` for the offsets of `batch.spans` the store has not
    applied yet and advances the store's tracking record (next offset per partition) in
    the same atomic write, so a batch delivered again changes nothing. It raises SinkError
    when the store is unavailable (retry), PoisonError when it refuses a value, and
    StoreBehind when its tracking record ends before the batch starts.
    """

    name: str

    async def apply(self, batch: Batch) -> None: ...

    async def positions(self) -> dict[int, int]:
        """The next offset to apply, per partition of the events topic (tracking records)."""
        ...

    async def reset(self) -> None:
        """Empty the store, tracking records included, so it is rebuilt from offset 0."""
        ...

    async def close(self) -> None: ...


class Ledger(Projection, Protocol):
    """The store that decides which copy of an event id counts (SQL: the system of record).

    Its `apply` also sets `batch.canonical`: the batch's events that are the first copy of
    their event id in the log, whether applied now or before.
    """

    async def canonical_of(self, events: Sequence[Event]) -> list[Event]:
        """The events among `events` (already applied here) that are canonical copies."""
        ...
