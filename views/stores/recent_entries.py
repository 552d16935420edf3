"""The audit log's newest entries, merged from the tracking documents' `recent` lists (pure).

Each tracking document (one per partition, docs/stores.md) keeps its partition's newest
entries by the log's order, (occurred_at_ms, event id) descending. A list shorter than the
partition's `events` is truncated: it holds every entry of its partition above its lowest
key, and nothing tells what lies below. So the merged lists are exact at and above the
horizon, the greatest lowest key among the truncated lists. A page that fills above it, or
whose time span starts above it, is answered from them; any other page needs the collection.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]
Key = tuple[int, str]


def key_of(entry: Doc) -> Key:
    """An entry's place in the log's order (greater is newer)."""
    return int(entry["occurred_at_ms"]), str(entry["event_id"])


@dataclass(frozen=True)
class Listed:
    """One partition's list: its rows newest first, each row's key, the rows' field names."""

    fields: list[str]
    rows: list[list[Any]]
    keys: list[Key]

    def entries(self) -> Iterator[tuple[Key, Doc]]:
        # Rows become entries only as a page reads them: most of a list is never looked at.
        entries = (dict(zip(self.fields, row, strict=True)) for row in self.rows)
        return zip(self.keys, entries, strict=True)


def listed(doc: Doc) -> Listed | None:
    """A tracking document's list; None when it keeps no usable one."""
    text = doc.get("recent")
    if not isinstance(text, str):
        return None  # written before the sink kept one: its partition's entries are unknown
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


@dataclass(frozen=True)
class RecentLog:
    """Every partition's list, and the key below which the merged lists stop being exact."""

    lists: list[Listed]
    # None: every list holds all of its partition's entries.
    horizon: Key | None

    @classmethod
    def of(
        cls, tracking: Sequence[Doc], parse: Callable[[Doc], Listed | None] = listed
    ) -> RecentLog | None:
        """The lists; None when a document has none, or holds more than it counted."""
        if not tracking:
            return None  # nothing committed yet: the collection says what it holds
        lists: list[Listed] = []
        lowest: list[Key] = []
        for doc in tracking:
            found = parse(doc)
            events = int(doc.get("events", 0))
            if found is None or len(found.rows) > events or (events and not found.rows):
                return None
            if len(found.rows) < events:
                lowest.append(found.keys[-1])
            lists.append(found)
        return cls(lists, max(lowest, default=None))

    def newest_first(self) -> Iterator[tuple[Key, Doc]]:
        return heapq.merge(
            *(one.entries() for one in self.lists), key=lambda pair: pair[0], reverse=True
        )

    def page(
        self, admits: Callable[[Doc], bool], before: Key | None, floor: Key | None, limit: int
    ) -> list[Doc] | None:
        """The first `limit` admitted entries below `before`, or None if the lists cannot tell.

        `floor` is the lowest key the filter admits: a span that starts at or above the
        horizon is whole in the lists, however few entries it holds.
        """
        horizon = self.horizon
        if horizon is not None and floor is not None and floor >= horizon:
            horizon = None
        found: list[Doc] = []
        for key, entry in self.newest_first():
            if before is not None and key >= before:
                continue
            if horizon is not None and key < horizon:
                return None
            if admits(entry):
                found.append(entry)
                if len(found) == limit:
                    return found
        return found if horizon is None else None
