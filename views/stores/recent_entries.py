"""The audit log's pages from the tracking documents' lists and their sealed chunks (pure).

Each tracking document (one per partition, docs/stores.md) keeps its partition's newest
entries by the log's order, (occurred_at_ms, event id) descending, and a directory of the
sealed chunks holding the rest, each with its key range. List and chunks hold every entry of
the partition once, so any page can be told from them: the lists are in memory, and a page
reads only the chunks whose range reaches above its last entry, by `_id`.

A list from before chunks existed (no directory) is truncated: it holds every entry of its
partition above its lowest key, and nothing tells what lies below. Its lowest key is a
horizon below which a page needs the collection.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]
Key = tuple[int, str]


def key_of(entry: Doc) -> Key:
    """An entry's place in the log's order (greater is newer)."""
    return int(entry["occurred_at_ms"]), str(entry["event_id"])


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """A sealed chunk in a tracking document's directory: its `_id`, greatest and least key."""

    chunk_id: str
    high: Key
    low: Key


@dataclass(frozen=True)
class Listed:
    """Rows newest first (a partition's list or one chunk), each row's key, the rows' field
    names, and for a list the chunks it continues in (None: from before chunks)."""

    fields: list[str]
    rows: list[list[Any]]
    keys: list[Key]
    chunks: list[ChunkRef] | None = None

    @functools.cached_property
    def positions(self) -> dict[str, int]:
        return {name: n for n, name in enumerate(self.fields)}

    def below(self, upper: Key | None, inclusive: bool) -> Iterator[tuple[Key, RowView]]:
        """The entries from the first key under `upper` (or equal, if inclusive) on."""
        start = 0
        if upper is not None:
            # keys descend, so bisect the ascending view of them
            ascending = _Reversed(self.keys)
            seen = bisect.bisect_right if inclusive else bisect.bisect_left
            start = len(self.keys) - seen(ascending, upper)
        positions = self.positions
        for n in range(start, len(self.rows)):
            yield self.keys[n], RowView(positions, self.rows[n])


class RowView(Mapping[str, Any]):
    """One row read by field name, without building its dict: a filter looks at 3 of its 13
    fields, and a page with a narrow filter walks thousands of rows (building each one's dict
    was most of its time). `dict(view)` makes the entry once it is shown."""

    __slots__ = ("_positions", "_row")

    def __init__(self, positions: dict[str, int], row: list[Any]) -> None:
        self._positions, self._row = positions, row

    def __getitem__(self, name: str) -> Any:
        return self._row[self._positions[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


class _Reversed(Sequence[Key]):
    """A descending list seen in ascending order, without a copy."""

    def __init__(self, keys: list[Key]) -> None:
        self._keys = keys

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, n: Any) -> Any:
        return self._keys[len(self._keys) - 1 - n]


def parse_rows(text: object) -> Listed | None:
    """Rows stored as `{"fields": [...], "rows": [[...], ...]}`; None if not such text."""
    if not isinstance(text, str):
        return None
    try:
        stored = json.loads(text)
        fields = [str(name) for name in stored["fields"]]
        at, event_id = fields.index("occurred_at_ms"), fields.index("event_id")
        rows: list[list[Any]] = list(stored["rows"])
        if any(len(row) != len(fields) for row in rows):
            return None
        keys = [(int(row[at]), str(row[event_id])) for row in rows]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if any(newer <= older for newer, older in itertools.pairwise(keys)):
        order = sorted(range(len(rows)), key=keys.__getitem__, reverse=True)
        rows, keys = [rows[i] for i in order], [keys[i] for i in order]
    return Listed(fields, rows, keys)


def parse_chunks(text: str) -> list[ChunkRef]:
    """A directory, `[[chunk_id, high_ms, high_id, low_ms, low_id, rows], ...]`."""
    return [
        ChunkRef(str(c), (int(hm), str(hi)), (int(lm), str(li)))
        for c, hm, hi, lm, li, _ in json.loads(text)
    ]


def listed(doc: Doc) -> Listed | None:
    """A tracking document's list and directory; None when it keeps no usable list."""
    found = parse_rows(doc.get("recent"))  # None: written before the sink kept one
    directory = doc.get("chunks")
    if found is None or directory is None:
        return found
    try:
        chunks = parse_chunks(str(directory))
    except (ValueError, TypeError):
        return None
    return Listed(found.fields, found.rows, found.keys, chunks)


class ParsedLists:
    """Lists parsed earlier, by tracking document, reused while its `token` is unchanged.

    The sink writes a new token with every new list (streams/sinks/mongo.py), so an equal
    token means an equal list; a document without one is parsed every time.
    """

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[str, Listed | None]] = {}

    def __call__(self, doc: Doc) -> Listed | None:
        token, doc_id = doc.get("token"), str(doc.get("_id"))
        if not isinstance(token, str):
            return listed(doc)
        held = self._parsed.get(doc_id)
        if held is not None and held[0] == token:
            return held[1]
        found = listed(doc)
        self._parsed[doc_id] = (token, found)
        return found


def just_above(key: Key) -> Key:
    """The least key greater than `key`: no event id lies between "x" and "x\\0"."""
    return key[0], key[1] + "\0"


@dataclass(frozen=True, slots=True)
class Found:
    """A page's admitted entries, newest first. `resume` is set when the page stopped short
    to bound its chunk reads: the entries are every admitted one above it (and below the
    page's start), and the next page holds those below it."""

    entries: list[Doc]
    resume: Key | None = None


# Chunks read at once while a page needs more.
CHUNK_READS_AT_ONCE = 4


@dataclass(frozen=True)
class RecentLog:
    """Every partition's list, their chunks, and the key below which a list from before
    chunks stops being exact."""

    lists: list[Listed]
    # None: no list is truncated without chunks.
    horizon: Key | None
    chunks: list[ChunkRef]

    @classmethod
    def of(
        cls, tracking: Sequence[Doc], parse: Callable[[Doc], Listed | None] = listed
    ) -> RecentLog | None:
        """The lists; None when a document has none, or holds more than it counted."""
        if not tracking:
            return None  # nothing committed yet: the collection says what it holds
        lists: list[Listed] = []
        lowest: list[Key] = []
        chunks: list[ChunkRef] = []
        for doc in tracking:
            found = parse(doc)
            events = int(doc.get("events", 0))
            if found is None or len(found.rows) > events or (events and not found.rows):
                return None
            if found.chunks is not None:
                chunks.extend(found.chunks)
            elif len(found.rows) < events:
                lowest.append(found.keys[-1])
            lists.append(found)
        return cls(lists, max(lowest, default=None), chunks)

    async def page(
        self,
        admits: Callable[[Mapping[str, Any]], bool],
        before: Key | None,
        span: tuple[Key | None, Key | None],
        limit: int,
        read: Callable[[Sequence[ChunkRef]], Awaitable[list[Listed]]],
        reads: int,
    ) -> Found | None:
        """The first `limit` admitted entries below `before`, or None if only the collection
        can tell (below a horizon).

        `span` is the lowest key the filter admits and the key all its entries are below, if
        its time span has a start or an end: a chunk outside it is never read. Chunks are
        read greatest first, `read` fetching several at once, until the page is whole, or
        `reads` chunks were read and the page stops short (Found.resume).
        """
        floor, ceiling = span
        if ceiling is not None and (before is None or ceiling < before):
            before = ceiling  # nothing at or above a span's end is admitted: skip it
        horizon = self.horizon
        if horizon is not None and floor is not None and floor >= horizon:
            horizon = None
        pending = sorted(
            (
                chunk
                for chunk in self.chunks
                if (before is None or chunk.low < before) and (floor is None or chunk.high >= floor)
            ),
            key=lambda chunk: chunk.high,
            reverse=True,
        )
        sources = list(self.lists)
        found: list[Doc] = []
        upper, inclusive, done = before, False, 0
        while True:
            # Every entry above the next unread chunk's greatest key is in `sources`.
            next_high = pending[done].high if done < len(pending) else None
            walk = heapq.merge(
                *(one.below(upper, inclusive) for one in sources),
                key=lambda pair: pair[0],
                reverse=True,
            )
            for key, entry in walk:
                if next_high is not None and key <= next_high:
                    break
                if horizon is not None and key < horizon:
                    return None
                if floor is not None and key < floor:
                    return Found(found)
                if admits(entry):
                    found.append(dict(entry))
                    if len(found) == limit:
                        return Found(found)
            if next_high is None:
                return Found(found) if horizon is None else None
            # Past the budget, stop short; but only once a chunk was read, and where the next
            # page starts below this one's start, or no walk would move on.
            resume = just_above(next_high)
            if done >= max(reads, 1) and (before is None or resume < before):
                return Found(found, resume=resume)
            batch = pending[done : done + CHUNK_READS_AT_ONCE]
            sources.extend(await read(batch))
            done += len(batch)
            if before is None or next_high < before:  # else nothing was walked yet
                upper, inclusive = next_high, True
