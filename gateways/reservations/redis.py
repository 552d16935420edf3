"""Reservations in Redis: one string per request id, every batch step one Lua script.

A key `{prefix}:req:{request_id}` holds `P` + lease deadline (13 digits, ms, Redis's own
clock) + owner (16 chars) + event bytes while pending, and `A` + event bytes once accepted.
Redis's clock decides leases, so gateways with skewed clocks still agree on who may take over.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Sequence
from typing import Final, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateways.errors import ReservationsUnavailable
from gateways.reservations import OWNER_CHARS, Claim, Held, Verdict
from gateways.reservations.coalesce import Coalescer
from squidstream.settings import Settings

T = TypeVar("T")
# Keys per script call: a call blocks Redis while it runs (~1 µs per key), so bound it.
MAX_KEYS_PER_CALL: Final = 5000

# The offsets below follow the layout in gateways/reservations/__init__.py: state at 1,
# deadline at 2..14, owner at 15..30, event bytes from 31.
# KEYS: one per request id. ARGV: lease_ms, horizon_ms, owner, the events' lengths
# ("12,130,..."), then all events concatenated: a few big arguments cost far less to pack
# and parse in Python than one per event. Reply: one string of verdict letters (R, A, W,
# T), then the held bytes of every key whose letter is not R, in key order.
RESERVE: Final = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local deadline = string.format('%013.0f', now + tonumber(ARGV[1]))
local owner, events, pos, i = ARGV[3], ARGV[5], 1, 0
local verdicts, replies = {}, {''}
for size in string.gmatch(ARGV[4], '%d+') do
  i = i + 1
  local key, raw = KEYS[i], string.sub(events, pos, pos + tonumber(size) - 1)
  pos = pos + tonumber(size)
  local held = redis.call('GET', key)
  if not held then
    redis.call('SET', key, 'P' .. deadline .. owner .. raw, 'PX', ARGV[2])
    verdicts[i] = 'R'
  elseif string.sub(held, 1, 1) == 'A' then
    verdicts[i] = 'A'
    replies[#replies + 1] = string.sub(held, 2)
  elseif tonumber(string.sub(held, 2, 14)) > now then
    verdicts[i] = 'W'
    replies[#replies + 1] = string.sub(held, 31)
  else
    local first = string.sub(held, 31)
    redis.call('SET', key, 'P' .. deadline .. owner .. first, 'KEEPTTL')
    verdicts[i] = 'T'
    replies[#replies + 1] = first
  end
end
replies[1] = table.concat(verdicts)
return replies
"""

# KEYS: reservations whose events the broker confirmed. ARGV: horizon_ms, owner.
# Reply: one character per key, 1 if no longer ours (taken over or gone; its new owner
# settles it), else 0.
ACCEPT: Final = """
local lost = {}
for i, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  lost[i] = '0'
  if held and string.sub(held, 1, 1) == 'P' and string.sub(held, 15, 30) == ARGV[2] then
    redis.call('SET', key, 'A' .. string.sub(held, 31), 'PX', ARGV[1])
  elseif not (held and string.sub(held, 1, 1) == 'A') then
    lost[i] = '1'
  end
end
return table.concat(lost)
"""

# KEYS: reservations whose publish failed. ARGV: owner, "forget" or "expire".
# Only reservations still ours are touched; "expire" keeps the bytes and ends the lease now.
RELEASE: Final = """
for _, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  if held and string.sub(held, 1, 1) == 'P' and string.sub(held, 15, 30) == ARGV[1] then
    if ARGV[2] == 'forget' then
      redis.call('DEL', key)
    else
      redis.call('SET', key, 'P' .. string.rep('0', 13) .. ARGV[1] .. string.sub(held, 31),
        'KEEPTTL')
    end
  end
end
return 0
"""


def new_owner() -> str:
    """A token naming one gateway process as the holder of its reservations."""
    return uuid.uuid4().hex[:OWNER_CHARS]


class RedisReservations:
    """The shared reservation store of every gateway, on `settings.redis_url`."""

    def __init__(
        self,
        settings: Settings,
        *,
        owner: str | None = None,
        lease_s: float | None = None,
    ) -> None:
        self.owner = owner or new_owner()
        if len(self.owner) != OWNER_CHARS:
            raise ValueError(f"owner must have {OWNER_CHARS} characters, got {self.owner!r}")
        self._prefix = f"{settings.redis_prefix}:req:"
        self._lease_ms = int(1000 * (settings.reservation_lease_s if lease_s is None else lease_s))
        self._horizon_ms = int(1000 * settings.retry_horizon_s)
        # The gateway's whole answer is bounded by the broker timeout; Redis gets the same.
        self._timeout_s = settings.broker_timeout_s
        self._where = f"redis at {settings.redis_host}:{settings.redis_port}"
        self._client = aioredis.Redis.from_url(
            settings.redis_url,
            socket_timeout=self._timeout_s,
            socket_connect_timeout=self._timeout_s,
        )
        self._reserve_script = self._client.register_script(RESERVE)
        self._accept_script = self._client.register_script(ACCEPT)
        self._release = self._client.register_script(RELEASE)
        # Concurrent batches (unary calls, several streams) share one script call each step.
        self._reserving = Coalescer(self._reserve_all, MAX_KEYS_PER_CALL)
        self._accepting = Coalescer(self._accept_all, MAX_KEYS_PER_CALL)

    def key(self, request_id: str) -> str:
        return self._prefix + request_id

    async def reserve(self, claims: Sequence[Claim]) -> list[Held]:
        return await self._reserving.submit(claims) if claims else []

    async def _reserve_all(self, claims: list[Claim]) -> list[Held]:
        keys = [self.key(claim.request_id) for claim in claims]
        sizes = ",".join(str(len(claim.raw)) for claim in claims)
        events = b"".join(claim.raw for claim in claims)
        args: list[bytes | str | int] = [
            self._lease_ms,
            self._horizon_ms,
            self.owner,
            sizes,
            events,
        ]
        verdicts, *held = await self._call(self._reserve_script(keys=keys, args=args))
        return _held(verdicts, held, claims)

    async def accept(self, request_ids: Sequence[str]) -> int:
        return sum(await self._accepting.submit(request_ids)) if request_ids else 0

    async def _accept_all(self, request_ids: list[str]) -> list[int]:
        keys = [self.key(request_id) for request_id in request_ids]
        args: list[int | str] = [self._horizon_ms, self.owner]
        lost: bytes = await self._call(self._accept_script(keys=keys, args=args))
        return [flag - ord("0") for flag in lost]

    async def release(self, request_ids: Sequence[str], *, maybe_sent: bool) -> None:
        if not request_ids:
            return
        keys = [self.key(request_id) for request_id in request_ids]
        mode = "expire" if maybe_sent else "forget"
        await self._call(self._release(keys=keys, args=[self.owner, mode]))

    async def healthy(self) -> bool:
        try:
            await self._call(self._client.ping())
        except ReservationsUnavailable:
            return False
        return True

    async def close(self) -> None:
        await self._reserving.close()
        await self._accepting.close()
        await self._client.aclose()

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call
        except (RedisError, OSError, TimeoutError) as exc:
            raise ReservationsUnavailable(f"{self._where}: {exc!r}") from exc


def _held(verdicts: bytes, held: list[bytes], claims: list[Claim]) -> list[Held]:
    """Unpack RESERVE's reply: our own bytes for R, the next held bytes for any other letter."""
    found, rest = [], iter(held)
    for letter, claim in zip(verdicts.decode(), claims, strict=True):
        verdict = Verdict(letter)
        found.append(Held(verdict, claim.raw if verdict is Verdict.RESERVED else next(rest)))
    return found
