"""A partition's newest audit entries, as the Mongo sink keeps them in its tracking document.

The list is one JSON string, `{"fields": [...], "rows": [[...], ...]}`, newest first by the
log's order (occurred_at_ms, event id). The sink holds each row already encoded beside its
key, so a batch re-encodes only its own entries and joins the rest: rebuilding and parsing
the whole list for every batch cost about a quarter of a worker's CPU (py-spy, 60,000-event
drain on our 2-core machine).

A list that grows past twice its size seals its oldest rows into a chunk document (same
format), listed in the tracking document's `chunks` directory with each chunk's key range:
the list and the chunks it lists hold every entry of the partition, each once.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, TypeVar

from squidstream.contract import EVENT_FIELDS
from streams.projection.decode import Event

# Entries kept per partition: above the largest page (200, views/routes/audit.py) plus the one
# that tells whether a next page exists, and a few pages deep for a filtered page.
RECENT_ENTRIES = 500
# A list that grows past SEAL_FACTOR * its size seals its oldest rows into a chunk: chunks
# of at least RECENT_ENTRIES rows, and a list rewritten with every batch kept small.
SEAL_FACTOR = 2
# What an AuditEntry shows (views/models.py), in the order of each row.
RECENT_FIELDS = (*EVENT_FIELDS, "projected_at_ms", "kafka_partition", "kafka_offset")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Entry = dict[str, Any]
T = TypeVar("T")
Key = tuple[int, str]
# One entry: its key, and its row as JSON text.
Row = tuple[Key, str]
_COMPACT = (",", ":")
_HEAD = '{"fields":' + json.dumps(RECENT_FIELDS, separators=_COMPACT) + ',"rows":['


def epoch_ms(at: datetime) -> int:
    """Whole milliseconds since the epoch, truncated as BSON stores a datetime."""
    return (at - EPOCH) // timedelta(milliseconds=1)


def recent_entry(event: Event, projected_at: datetime) -> Entry:
    """The fields of one row, by name."""
    return {
        **event.game_fields(),
        "projected_at_ms": epoch_ms(projected_at),
        "kafka_partition": event.partition,
        "kafka_offset": event.offset,
    }


def row_of(entry: Entry) -> Row:
    key = (int(entry["occurred_at_ms"]), str(entry["event_id"]))
    return key, json.dumps([entry.get(name) for name in RECENT_FIELDS], separators=_COMPACT)


def _greatest(items: Iterable[T], keep: int, key: Callable[[T], Key]) -> list[T]:
    """The `keep` greatest items by key, each event id (the key's second part) once; a later
    item wins."""
    by_id = {key(item)[1]: item for item in items}
    return heapq.nlargest(keep, by_id.values(), key=key)


def newest_rows(rows: Iterable[Row], keep: int = RECENT_ENTRIES) -> list[Row]:
    """The `keep` greatest rows by key, each event id once (a later row wins)."""
    return _greatest(rows, keep, itemgetter(0))


def fresh_rows(events: Sequence[Event], projected_at: datetime, keep: int) -> list[Row]:
    """Rows for a batch's own newest `keep` events only: the rest cannot enter the list."""
    # In no order: every caller merges them through newest_rows, which sorts. Keeping every
    # event (a list that seals its overflow) needs no selection at all.
    if keep >= len(events):
        return [row_of(recent_entry(event, projected_at)) for event in events]
    top = heapq.nlargest(keep, events, key=lambda e: (e.occurred_at_ms, e.event_id))
    return [row_of(recent_entry(event, projected_at)) for event in top]


def sealed(rows: list[Row], keep: int) -> tuple[list[Row], list[Row]]:
    """`rows` (newest first) as the list to keep and the oldest rows to seal, if it is long
    enough to seal any: the kept list then holds `keep` rows."""
    if len(rows) <= SEAL_FACTOR * keep:
        return rows, []
    return rows[:keep], rows[keep:]


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """A sealed chunk of a partition's entries: its document's `_id`, its greatest and least
    key, and how many rows it holds. Chunks never change once their reference is written."""

    chunk_id: str
    high: Key
    low: Key
    rows: int


def chunk_of(chunk_id: str, rows: Sequence[Row]) -> ChunkRef:
    return ChunkRef(chunk_id, rows[0][0], rows[-1][0], len(rows))


def encode_chunks(chunks: Sequence[ChunkRef]) -> str:
    """The directory as JSON text, `[[chunk_id, high_ms, high_id, low_ms, low_id, rows]]`."""
    refs = [[c.chunk_id, *c.high, *c.low, c.rows] for c in chunks]
    return json.dumps(refs, separators=_COMPACT)


def decode_chunks(text: str) -> list[ChunkRef]:
    return [
        ChunkRef(str(c), (int(hm), str(hi)), (int(lm), str(li)), int(n))
        for c, hm, hi, lm, li, n in json.loads(text)
    ]


def encode_rows(rows: Sequence[Row]) -> str:
    return _HEAD + ",".join(text for _, text in rows) + "]}"


def decode_rows(text: str) -> list[Row]:
    """A stored list's rows, in RECENT_FIELDS order whatever order it was written in."""
    return [row_of(entry) for entry in decode_recent(text)]


def newest(entries: Iterable[Entry], keep: int = RECENT_ENTRIES) -> list[Entry]:
    """The `keep` greatest entries by (occurred_at_ms, event_id), each event id once."""
    return _greatest(entries, keep, lambda e: (int(e["occurred_at_ms"]), str(e["event_id"])))


def encode_recent(entries: Sequence[Entry]) -> str:
    return encode_rows([row_of(entry) for entry in entries])


def decode_recent(text: str) -> list[Entry]:
    stored = json.loads(text)
    return [dict(zip(stored["fields"], row, strict=True)) for row in stored["rows"]]
