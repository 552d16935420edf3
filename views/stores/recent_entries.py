"""The audit log's newest entries, merged from the tracking documents' `recent` lists (pure).

Each tracking document (one per partition, docs/stores.md) keeps its partition's newest
entries by the log's order, (occurred_at_ms, event id) descending. A list shorter than the
partition's `events` is truncated: it holds every entry of its partition above its lowest
key, and nothing tells what lies below. So the merged lists are exact at and above the
horizon, the greatest lowest key among the truncated lists. A page that fills above it, or
whose time span starts above it, is answered from them; any other page needs the collection.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]
Key = tuple[int, str]


def key_of(entry: Doc) -> Key:
    """An entry's place in the log's order (greater is newer)."""
    return int(entry["occurred_at_ms"]), str(entry["event_id"])


def listed(doc: Doc) -> list[Doc] | None:
    """A tracking document's entries by field name; None when it keeps no usable list."""
    text = doc.get("recent")
    if not isinstance(text, str):
        return None  # written before the sink kept one: its partition's entries are unknown
    try:
        stored = json.loads(text)
        entries = [dict(zip(stored["fields"], row, strict=True)) for row in stored["rows"]]
        for entry in entries:
            key_of(entry)
    except (ValueError, KeyError, TypeError):
        return None
    return entries


@dataclass(frozen=True)
class RecentLog:
    """Every partition's listed entries, newest first, and where they stop being exact."""

    entries: list[tuple[Key, Doc]]
    # None: every list holds all of its partition's entries.
    horizon: Key | None

    @classmethod
    def of(cls, tracking: Sequence[Doc]) -> RecentLog | None:
        """The merged lists; None when a document has none, or holds more than it counted."""
        if not tracking:
            return None  # nothing committed yet: the collection says what it holds
        merged: list[tuple[Key, Doc]] = []
        lowest: list[Key] = []
        for doc in tracking:
            entries = listed(doc)
            events = int(doc.get("events", 0))
            if entries is None or len(entries) > events or (events and not entries):
                return None
            keyed = [(key_of(entry), entry) for entry in entries]
            if len(entries) < events:
                lowest.append(min(key for key, _ in keyed))
            merged.extend(keyed)
        merged.sort(key=lambda pair: pair[0], reverse=True)
        return cls(merged, max(lowest, default=None))

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
        for key, entry in self.entries:
            if before is not None and key >= before:
                continue
            if horizon is not None and key < horizon:
                return None
            if admits(entry):
                found.append(entry)
                if len(found) == limit:
                    return found
        return found if horizon is None else None
