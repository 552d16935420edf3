"""An in-memory emitter for tests and broker-free demos; `down` simulates a dead broker."""

from __future__ import annotations

from collections.abc import Sequence

from gateways.errors import BrokerUnavailable
from gateways.events import Encoded
from squidstream.contract import RouteName
from squidstream.proto import game_pb2


class MemoryEmitter:
    """Keeps every emitted batch's exact bytes; refuses everything while `down` is set."""

    def __init__(self, route: RouteName = "kafka") -> None:
        self.route: RouteName = route
        self.raw_batches: list[list[bytes]] = []
        self.down = False

    async def start(self) -> None:
        if self.down:
            raise BrokerUnavailable("in-memory broker is down")

    async def emit_many(self, events: Sequence[Encoded]) -> None:
        await self.start()
        self.raw_batches.append([event.raw for event in events])

    async def healthy(self) -> bool:
        return not self.down

    async def close(self) -> None:
        return None

    @property
    def raw(self) -> list[bytes]:
        """Every emitted record's bytes, in order."""
        return [raw for batch in self.raw_batches for raw in batch]

    @property
    def batches(self) -> list[list[game_pb2.GameEvent]]:
        return [[game_pb2.GameEvent.FromString(raw) for raw in batch] for batch in self.raw_batches]

    @property
    def emitted(self) -> list[game_pb2.GameEvent]:
        return [event for batch in self.batches for event in batch]
