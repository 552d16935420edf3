"""The Redis projection: one Lua script per batch that counts only event ids it has not seen."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from squidstream.settings import Settings
from streams.decode import Event
from streams.errors import SinkError

# ARGV: prefix, projected_at_ms, then 7 values per event (id, winner, players, game_id, route,
# occurred_at_ms, json). Aggregates are summed in Lua first so each key is written once; the
# lists keep the 10 newest games by occurrence time, whatever order batches arrive in, so a
# replay rebuilds them identically.
APPLY_BATCH = """
local prefix = ARGV[1]
local seen, wins, sizes = prefix .. ':seen', {}, {}
local games, routes, last, recent = {}, {}, {}, {}
local new = 0
for i = 3, #ARGV, 7 do
  if redis.call('SADD', seen, ARGV[i]) == 1 then
    new = new + 1
    local winner, players = ARGV[i + 1], ARGV[i + 2]
    wins[winner] = (wins[winner] or 0) + 1
    sizes[players] = (sizes[players] or 0) + 1
    games[ARGV[i + 3]] = (games[ARGV[i + 3]] or 0) + 1
    routes[ARGV[i + 4]] = (routes[ARGV[i + 4]] or 0) + 1
    local item = {tonumber(ARGV[i + 5]), ARGV[i], ARGV[i + 6]}
    last[#last + 1] = item
    recent[players] = recent[players] or {}
    table.insert(recent[players], item)
  end
end
for member, n in pairs(wins) do redis.call('ZINCRBY', prefix .. ':wins', n, member) end
for field, n in pairs(sizes) do redis.call('HINCRBY', prefix .. ':sizes', field, n) end
for field, n in pairs(games) do redis.call('HINCRBY', prefix .. ':games', field, n) end
for field, n in pairs(routes) do redis.call('HINCRBY', prefix .. ':routes', field, n) end
local function newer(a, b)
  if a[1] ~= b[1] then return a[1] > b[1] end
  return a[2] > b[2]
end
local function merge(key, items)
  for _, json in ipairs(redis.call('LRANGE', key, 0, 9)) do
    local game = cjson.decode(json)
    items[#items + 1] = {tonumber(game.occurred_at_ms), game.event_id, json}
  end
  table.sort(items, newer)
  local keep = {}
  for k = 1, math.min(10, #items) do keep[k] = items[k][3] end
  redis.call('DEL', key)
  redis.call('RPUSH', key, unpack(keep))
end
if new > 0 then
  merge(prefix .. ':last', last)
  for players, items in pairs(recent) do merge(prefix .. ':recent:' .. players, items) end
  redis.call('HINCRBY', prefix .. ':meta', 'events', new)
  redis.call('HSET', prefix .. ':meta', 'projected_at_ms', ARGV[2])
end
return new
"""


def game_json(event: Event) -> str:
    """The JSON object of one game as the `last` and `recent` lists hold it."""
    return json.dumps(event.game_fields(), separators=(",", ":"))


def script_args(prefix: str, batch: Sequence[Event], projected_at_ms: int) -> list[Any]:
    """ARGV for APPLY_BATCH."""
    args: list[Any] = [prefix, projected_at_ms]
    for e in batch:
        args += (e.event_id, e.winner, e.players, e.game_id, e.route, e.occurred_at_ms)
        args.append(game_json(e))
    return args


class RedisProjection:
    """Leaderboard, last games, size histogram and counters under one key prefix."""

    name = "redis"

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(APPLY_BATCH)

    @classmethod
    async def open(cls, settings: Settings) -> RedisProjection:
        client = aioredis.Redis.from_url(settings.redis_url)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise SinkError(f"cannot reach Redis at {settings.redis_url}: {exc}") from exc
        return cls(client, settings.redis_prefix)

    async def apply(self, batch: Sequence[Event]) -> None:
        if not batch:
            return
        args = script_args(self._prefix, batch, int(time.time() * 1000))
        try:
            await self._script(keys=[], args=args)
        except RedisError as exc:
            raise SinkError(f"Redis batch of {len(batch)} failed: {exc}") from exc

    async def reset(self) -> None:
        """Delete every key under the prefix (SCAN, never KEYS, so Redis stays responsive)."""
        try:
            batch: list[Any] = []
            async for key in self._client.scan_iter(match=f"{self._prefix}:*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    await self._client.unlink(*batch)
                    batch = []
            if batch:
                await self._client.unlink(*batch)
        except RedisError as exc:
            raise SinkError(f"cannot reset Redis prefix {self._prefix!r}: {exc}") from exc

    async def close(self) -> None:
        await self._client.aclose()
