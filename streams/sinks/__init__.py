"""The projection port: every store adapter applies a whole batch idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from streams.decode import Event


class Projection(Protocol):
    """A store that a batch of events is projected into, exactly once in effect."""

    name: str

    async def apply(self, batch: Sequence[Event]) -> None:
        """Write the batch; re-applying events already applied must change nothing."""
        ...

    async def reset(self) -> None:
        """Empty the store so a replay can rebuild it."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
