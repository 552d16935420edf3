"""Reservations: one shared record per request id, so a retry on any gateway gets the first answer.

The protocol (docs/retries.md has the whole story): before publishing, a gateway reserves
each new request id with the exact bytes of the event it decided (PENDING, held under a
lease); after the broker confirms, it marks the id ACCEPTED for the retry horizon. Whoever
asks later gets the reserved bytes back instead of deciding again. Every call takes a whole
batch, so a PlayStream batch costs one round trip per step, not one per request.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Fixed-width header of a stored reservation: state (1), lease deadline in ms (13), owner (16).
STATE_PENDING = b"P"
STATE_ACCEPTED = b"A"
DEADLINE_DIGITS = 13
OWNER_CHARS = 16
PENDING_HEADER = 1 + DEADLINE_DIGITS + OWNER_CHARS


class Verdict(enum.Enum):
    """What a reserve call found for one request id."""

    RESERVED = "R"  # nobody had it: ours now, publish our own event
    ACCEPTED = "A"  # the broker already has an event for it: answer with those bytes
    PENDING = "W"  # another publish holds a live lease: wait for it to settle
    TAKEN_OVER = "T"  # its owner's lease ran out: ours now, publish the reserved bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """A request id and the exact bytes of the event this gateway decided for it."""

    request_id: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class Held:
    """The answer for one claim: the verdict and the bytes the reservation now holds."""

    verdict: Verdict
    raw: bytes


class Reservations(Protocol):
    """A reservation store shared by every gateway; ReservationsUnavailable on any failure."""

    async def reserve(self, claims: Sequence[Claim]) -> list[Held]:
        """One Held per claim, in order, decided atomically for the whole batch."""

    async def accept(self, request_ids: Sequence[str]) -> int:
        """Mark our reservations accepted for the horizon; returns how many were no longer ours."""

    async def release(self, request_ids: Sequence[str], *, maybe_sent: bool) -> None:
        """Give up our reservations after a failed publish.

        maybe_sent=False: nothing reached the broker, so forget them (a retry decides anew,
        anywhere). maybe_sent=True: the broker may hold them, so keep the bytes and end the
        lease now, so that the next retry re-publishes those exact bytes at once.
        """

    async def healthy(self) -> bool:
        """Whether the store answers now, within the bound."""

    async def close(self) -> None:
        """Release the connections."""
