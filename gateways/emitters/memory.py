"""An in-memory emitter for tests and broker-free demos; `down` simulates a dead broker."""

from __future__ import annotations

from collections.abc import Sequence

from gateways.errors import BrokerUnavailable
from gateways.events import RouteName
from proto import game_pb2


class MemoryEmitter:
    """Keeps every emitted batch in a list; refuses everything while `down` is set."""

    def __init__(self, route: RouteName = "kafka") -> None:
        self.route: RouteName = route
        self.batches: list[list[game_pb2.GameEvent]] = []
        self.down = False

    async def start(self) -> None:
        if self.down:
            raise BrokerUnavailable("in-memory broker is down")

    async def emit_many(self, events: Sequence[game_pb2.GameEvent]) -> None:
        await self.start()
        self.batches.append(list(events))

    async def healthy(self) -> bool:
        return not self.down

    async def close(self) -> None:
        return None

    @property
    def emitted(self) -> list[game_pb2.GameEvent]:
        return [event for batch in self.batches for event in batch]
