"""Emitters hand accepted events to a broker; the gateway only knows this small protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateways.events import Encoded
from squidstream.contract import RouteName


class Emitter(Protocol):
    """Publishes events durably; every failure surfaces as BrokerUnavailable."""

    route: RouteName

    async def start(self) -> None:
        """Connect now; BrokerUnavailable if the broker cannot be reached in the bounded wait."""

    async def emit_many(self, events: Sequence[Encoded]) -> None:
        """Return only once the broker holds every event's exact bytes; else BrokerUnavailable.

        BrokerUnavailable.maybe_sent tells whether the broker may hold some of them anyway.
        """

    async def healthy(self) -> bool:
        """Whether the broker answers now (connecting first if needed), within the bound."""

    async def close(self) -> None:
        """Flush and release the connection."""
