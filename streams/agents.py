"""The table agent: folds the per-batch deltas of streams.consumer into the Faust tables."""

from __future__ import annotations

from typing import Any

import faust
from faust.types import StreamT

from streams.tables import Tables, apply_deltas


def register_agents(app: faust.App, deltas_topic: Any, tables: Tables) -> None:
    """Attach the table agent; its topic is partitioned like game-events (same numbers)."""

    @app.agent(deltas_topic, name="squid-tables", concurrency=1)
    async def fold_into_tables(stream: StreamT[Any]) -> None:
        # One record per source partition per projected batch: a few per second, so Faust's
        # per-event cost is irrelevant here, and table writes land on the right changelog
        # partition because the current event's partition is the source partition.
        async for event in stream.events():
            if isinstance(event.value, dict):
                apply_deltas(tables, event.message.partition, event.value)
