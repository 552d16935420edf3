"""A bounded memory of recent request ids, so a retry returns its event without a second publish."""

from __future__ import annotations

from collections import OrderedDict

from gateways.errors import RequestConflict
from gateways.events import ValidRequest
from proto import game_pb2


class RecentRequests:
    """Least-recently-used map of request id -> the event emitted for it."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self._capacity = capacity
        self._events: OrderedDict[str, game_pb2.GameEvent] = OrderedDict()

    def __len__(self) -> int:
        return len(self._events)

    def lookup(self, request: ValidRequest) -> game_pb2.GameEvent | None:
        """The event already emitted for this request id, or None.

        RequestConflict when the id was used with another game id or player count: a request
        id names one game, and silently answering the old game would hide a client bug.
        """
        event = self._events.get(request.request_id)
        if event is None:
            return None
        if event.game_id != request.game_id or event.players != request.players:
            raise RequestConflict(
                f"request_id {request.request_id!r} was already used for game_id "
                f"{event.game_id} with {event.players} players"
            )
        self._events.move_to_end(request.request_id)
        return event

    def remember(self, event: game_pb2.GameEvent) -> None:
        """Record an event the broker has accepted."""
        if self._capacity == 0:
            return
        self._events[event.request_id] = event
        self._events.move_to_end(event.request_id)
        while len(self._events) > self._capacity:
            self._events.popitem(last=False)
