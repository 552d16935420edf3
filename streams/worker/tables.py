"""Faust tables: exact counts per source partition, served by the worker that owns them.

Each value is `[count, next_offset]`: the count, and the offset after the last event the
count includes (in the key's partition). A batch adds to a key only its canonical events at
offsets >= that key's `next_offset`, and writes count and offset in one changelog record, so
a worker killed at any moment neither loses nor double counts: whatever changelog records
reached Kafka are consistent per key, and the events re-delivered after the crash are
counted only for the keys that had not counted them. Keys are `"{partition}:{key}"` and
every write goes to the changelog partition of its source partition, so the worker that
projects a partition owns its table keys (Faust's co-partitioning).

`table_positions` holds, per source partition, the offset below which every key has counted
every event: it is written only after the brokers confirmed the keys' own writes, so it is
never ahead of them. A worker that starts, or gets a partition, compares its first batch
with it and reads from the log whatever lies between (streams.worker.gaps).
"""

from __future__ import annotations

import asyncio
import weakref
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from itertools import chain
from typing import Any, cast

import faust
from faust.streams import _current_event
from faust.types import EventT, FutureMessage

from streams.projection.batch import Batch
from streams.projection.decode import Event

RATE_MINUTE_S = 60
RATE_LIVE_S, RATE_LIVE_STEP_S = 10, 2
RATE_EXPIRES = timedelta(hours=1)
POSITIONS_TABLE = "table_positions"
TABLE_NAMES = (
    "player_wins",
    "game_sizes",
    "game_counts",
    "route_counts",
    "route_rate_minute",
    "route_rate_live",
    POSITIONS_TABLE,
)
# Which key of each counter table an event adds one to.
COUNTER_KEYS: dict[str, Callable[[Event], object]] = {
    "player_wins": lambda e: e.winner,
    "game_sizes": lambda e: e.players,
    "game_counts": lambda e: e.game_id,
    "route_counts": lambda e: e.route,
}


@dataclass
class Tables:
    """The app's tables (counters, and two windowed rates per route)."""

    counters: dict[str, faust.Table[str, Any]]
    rate_minute: Any  # tumbling WindowWrapper: events per route per minute
    rate_live: Any  # hopping WindowWrapper: events per route over the last 10 s
    # Per source partition (key `"{partition}"`): the offset every key has counted up to.
    positions: faust.Table[str, int]

    @property
    def windowed(self) -> dict[str, Any]:
        return {"route_rate_minute": self.rate_minute, "route_rate_live": self.rate_live}

    @property
    def all(self) -> list[ConfirmedTable]:
        """Every table (the windowed ones unwrapped)."""
        windowed = [w.table for w in self.windowed.values()]
        return cast("list[ConfirmedTable]", [*self.counters.values(), *windowed, self.positions])


class ConfirmedTable(faust.Table):  # type: ignore[type-arg]
    """A table that keeps its changelog sends until `confirm_writes` waits for them.

    Faust's own flush before a commit gives up on its send buffer after 0.1 s without a
    send (`ProducerBuffer.flush_atmost`), so on a busy machine it can commit offsets whose
    table writes are still buffered, and a crash then loses them. Acknowledging events only
    after their changelog records are confirmed by the brokers does not depend on it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unconfirmed: list[FutureMessage] = []
        self._prune_at = UNCONFIRMED_PRUNE_AT

    def send_changelog(self, *args: Any, **kwargs: Any) -> FutureMessage:
        sent = super().send_changelog(*args, **kwargs)
        if len(self.unconfirmed) >= self._prune_at:
            # Writes nobody waits for (window expiry) must not pile up between flushes. The
            # next prune waits until the list has doubled, so a flush writing many keys does
            # not rescan it on every send.
            self.unconfirmed = [f for f in self.unconfirmed if not f.done()]
            self._prune_at = max(UNCONFIRMED_PRUNE_AT, 2 * len(self.unconfirmed))
        self.unconfirmed.append(sent)
        return sent


# Past this many unconfirmed sends, a table forgets the ones already confirmed.
UNCONFIRMED_PRUNE_AT = 10_000


async def confirm_writes(tables: Tables) -> None:
    """Wait until the brokers hold every changelog record the tables sent so far.

    A send that failed raises here, so the events behind it are never acknowledged.
    """
    sent: list[FutureMessage] = []
    for table in tables.all:
        sent.extend(table.unconfirmed)
        table.unconfirmed = []
    if sent:
        await asyncio.gather(*sent)


def define_tables(app: faust.App) -> Tables:
    """Declare the changelog-backed tables on the app."""

    def table(name: str, help_: str) -> faust.Table[str, Any]:
        # Values are `[count, next_offset]` lists, in the app's default (json) serializer.
        created = ConfirmedTable(app, name=name, default=None, beacon=app.tables.beacon, help=help_)
        return cast("faust.Table[str, Any]", app.tables.add(created))

    helps = {
        "player_wins": "wins per player",
        "game_sizes": "games per number of players",
        "game_counts": "games per game id",
        "route_counts": "games per route",
    }
    return Tables(
        counters={name: table(name, text) for name, text in helps.items()},
        rate_minute=table("route_rate_minute", "events per route per minute").tumbling(
            RATE_MINUTE_S, expires=RATE_EXPIRES
        ),
        rate_live=table("route_rate_live", "events per route, last 10 s").hopping(
            RATE_LIVE_S, RATE_LIVE_STEP_S, expires=timedelta(minutes=10)
        ),
        positions=table(POSITIONS_TABLE, "offset every key has counted up to, per partition"),
    )


def fresh_count(stored: Sequence[int] | None, offsets: Sequence[int]) -> int:
    """How many of `offsets` (ascending) the stored `[count, next_offset]` has not counted."""
    applied = stored[1] if stored else 0
    return len(offsets) - bisect_left(offsets, applied)


def added(stored: Sequence[int] | None, offsets: Sequence[int], span_next: int) -> list[int] | None:
    """The new `[count, next_offset]` of a key, or None when the batch adds nothing to it."""
    fresh = fresh_count(stored, offsets)
    if fresh == 0:
        return None
    count = stored[0] if stored else 0
    return [count + fresh, max(span_next, stored[1] if stored else 0)]


def offsets_by_key(
    events: Iterable[Event], key_of: Callable[[Event], object]
) -> dict[str, list[int]]:
    """Offsets (ascending, as events come in log order) of the events adding to each key."""
    grouped: dict[str, list[int]] = {}
    for event in events:
        grouped.setdefault(f"{event.partition}:{key_of(event)}", []).append(event.offset)
    return grouped


def apply_batch(tables: Tables, batch: Batch, owned: Collection[int]) -> int:
    """Add a committed batch's canonical events to the tables; returns keys written.

    Only the partitions this worker owns are written. One it lost in a rebalance a moment
    ago belongs to its new owner, which counts from the table positions it recovered: a late
    write from here could land after the new owner's and set a key back below them. If the
    partition comes back here and Faust commits the acknowledgements of the skipped events,
    the first batch after the table position shows the hole and it is read from the log.
    """
    written = 0
    # One event per offset, in offset order: a flush can hold a batch and a re-delivery of
    # part of it (Faust seeks back to the committed offset after a rebalance), and the
    # per-key filter counts offsets past the key's own, which needs them sorted and unique.
    by_partition: dict[int, dict[int, Event]] = {}
    for event in batch.canonical:
        if event.partition in owned:
            by_partition.setdefault(event.partition, {})[event.offset] = event
    for partition, at in by_partition.items():
        events = [at[offset] for offset in sorted(at)]
        span_next = batch.spans[partition].next
        with as_current(_event_of(batch, partition)):
            for name, key_of in COUNTER_KEYS.items():
                written += _add(tables.counters[name], offsets_by_key(events, key_of), span_next)
            for wrapper in tables.windowed.values():
                written += _add_windowed(wrapper, events, span_next)
    return written


def _add(table: Any, grouped: Mapping[Any, list[int]], span_next: int) -> int:
    written = 0
    for key, offsets in grouped.items():
        value = added(table.get(key), offsets, span_next)
        if value is not None:
            table[key] = value
            written += 1
    return written


def _add_windowed(wrapper: Any, events: Sequence[Event], span_next: int) -> int:
    """One `[count, next_offset]` per (route, window) of the events' occurrence times."""
    table = wrapper.table
    grouped: dict[tuple[str, tuple[float, float]], list[int]] = {}
    for event in events:
        key = f"{event.partition}:{event.route}"
        for window in table.window.ranges(event.occurred_at_ms / 1000):
            grouped.setdefault((key, tuple(window)), []).append(event.offset)
    return _add(table, grouped, span_next)


def record_positions(tables: Tables, batch: Batch, owned: Collection[int]) -> None:
    """Advance the table position of each owned partition of a batch whose key writes the
    brokers have confirmed (so a position is never ahead of the keys it vouches for)."""
    table = tables.positions
    for partition, span in batch.spans.items():
        if partition not in owned:
            continue
        with as_current(_event_of(batch, partition)):
            key = str(partition)
            if span.next > (table.get(key) or 0):
                table[key] = span.next


def applied_offset(tables: Tables, partition: int, events: Sequence[Any]) -> int:
    """The offset below which the tables have counted every event of `partition`.

    `events` are Faust events of the batch at hand: an on-disk (rocksdb) table reads the
    store of the current event's partition.
    """
    with as_current(_first_of(events, partition)):
        return int(tables.positions.get(str(partition)) or 0)


def _event_of(batch: Batch, partition: int) -> EventT[Any] | None:
    return _first_of(chain(reversed(batch.handles), reversed(batch.anchors)), partition)


def _first_of(events: Iterable[Any], partition: int) -> EventT[Any] | None:
    for event in events:
        if event.message.partition == partition:
            return cast("EventT[Any]", event)
    return None


@contextmanager
def as_current(event: EventT[Any] | None) -> Iterator[None]:
    """Make `event` Faust's current event while tables are written.

    A Faust table sends each write to the changelog partition (and rocksdb store) of the
    current event; a batch mixes partitions, so each partition's writes run with one of its
    own events as the current one. Faust offers no public setter for this context variable.
    """
    token = _current_event.set(weakref.ref(event) if event is not None else None)
    try:
        yield
    finally:
        _current_event.reset(token)


def snapshot(tables: Tables, partitions: set[int]) -> dict[str, Any]:
    """This worker's counts for the partitions it owns, summed over partitions."""
    result: dict[str, Any] = {
        name: dict(_sum_owned(table.data.items(), partitions))
        for name, table in tables.counters.items()
    }
    for name, wrapper in tables.windowed.items():
        windows: dict[str, dict[str, int]] = {}
        for (key, (start, _end)), value in wrapper.table.data.items():
            partition, route = key.split(":", 1)
            if int(partition) in partitions and value:
                window = windows.setdefault(route, {})
                window[str(int(start))] = window.get(str(int(start)), 0) + int(value[0])
        result[name] = windows
    return result


def _sum_owned(items: Iterable[tuple[str, Any]], partitions: set[int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for key, value in items:
        partition, name = key.split(":", 1)
        if int(partition) in partitions and value:
            totals[name] = totals.get(name, 0) + int(value[0])
    return totals
