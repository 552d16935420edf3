"""Reservations in process memory, with the Redis store's exact rules: for tests and demos.

Share one instance between gateways in one process to get cross-route retries without Redis.
`down` simulates an unreachable store; `clock_ms` lets a test end leases without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from gateways.errors import ReservationsUnavailable
from gateways.reservations import (
    DEADLINE_DIGITS,
    PENDING_HEADER,
    STATE_ACCEPTED,
    STATE_PENDING,
    Claim,
    Held,
    Verdict,
)
from gateways.reservations.redis import new_owner


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class MemoryStore:
    """The shared key space: request id -> (stored bytes, expiry in ms)."""

    def __init__(self, clock_ms: Callable[[], int] = _wall_ms) -> None:
        self.clock_ms = clock_ms
        self.values: dict[str, tuple[bytes, int]] = {}
        self.down = False

    def get(self, request_id: str) -> bytes | None:
        stored = self.values.get(request_id)
        if stored is None or stored[1] <= self.clock_ms():
            self.values.pop(request_id, None)
            return None
        return stored[0]


class MemoryReservations:
    """One gateway's view of a MemoryStore, with its own owner token."""

    def __init__(
        self,
        store: MemoryStore | None = None,
        *,
        lease_s: float = 30.0,
        horizon_s: float = 86_400.0,
        owner: str | None = None,
    ) -> None:
        self.store = store or MemoryStore()
        self.owner = (owner or new_owner()).encode()
        self._lease_ms = int(lease_s * 1000)
        self._horizon_ms = int(horizon_s * 1000)

    def _check(self) -> None:
        if self.store.down:
            raise ReservationsUnavailable("in-memory reservation store is down")

    def _pending(self, deadline_ms: int, raw: bytes) -> bytes:
        return STATE_PENDING + b"%0*d" % (DEADLINE_DIGITS, deadline_ms) + self.owner + raw

    def _ours(self, held: bytes | None) -> bool:
        return held is not None and held[:1] == STATE_PENDING and held[14:30] == self.owner

    async def reserve(self, claims: Sequence[Claim]) -> list[Held]:
        self._check()
        now = self.store.clock_ms()
        return [self._reserve_one(claim, now) for claim in claims]

    def _reserve_one(self, claim: Claim, now: int) -> Held:
        values, held = self.store.values, self.store.get(claim.request_id)
        if held is None:
            pending = self._pending(now + self._lease_ms, claim.raw)
            values[claim.request_id] = (pending, now + self._horizon_ms)
            return Held(Verdict.RESERVED, claim.raw)
        if held[:1] == STATE_ACCEPTED:
            return Held(Verdict.ACCEPTED, held[1:])
        raw = held[PENDING_HEADER:]
        if int(held[1:14]) > now:
            return Held(Verdict.PENDING, raw)
        expiry = values[claim.request_id][1]
        values[claim.request_id] = (self._pending(now + self._lease_ms, raw), expiry)
        return Held(Verdict.TAKEN_OVER, raw)

    async def accept(self, request_ids: Sequence[str]) -> int:
        self._check()
        lost, now = 0, self.store.clock_ms()
        for request_id in request_ids:
            held = self.store.get(request_id)
            if held is not None and self._ours(held):
                self.store.values[request_id] = (
                    STATE_ACCEPTED + held[PENDING_HEADER:],
                    now + self._horizon_ms,
                )
            elif held is None or held[:1] != STATE_ACCEPTED:
                lost += 1
        return lost

    async def release(self, request_ids: Sequence[str], *, maybe_sent: bool) -> None:
        self._check()
        for request_id in request_ids:
            held = self.store.get(request_id)
            if held is None or not self._ours(held):
                continue
            if maybe_sent:
                expiry = self.store.values[request_id][1]
                self.store.values[request_id] = (self._pending(0, held[PENDING_HEADER:]), expiry)
            else:
                del self.store.values[request_id]

    async def healthy(self) -> bool:
        return not self.store.down

    async def close(self) -> None:
        return None
