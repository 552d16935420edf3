"""The Redis projection: one Lua script per batch, tracked by offset in the same script.

The script reads the tracking hash `{prefix}:offsets` (field `{topic}:{partition}`, value the
next offset to apply), refuses a batch that starts past it (the store lost writes: it must
catch up first), applies the canonical events at offsets not applied yet, and advances the
tracking fields. A script runs atomically and Redis persists it as one unit (AOF), so the
counts and the tracking record can never disagree, even after a crash or a restore.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from squidstream.settings import Settings
from streams.errors import SinkError, StoreBehind
from streams.projection.batch import Batch
from streams.projection.decode import Event
from streams.sinks.errors import bounded, closed_on_failure, from_redis

# ARGV: prefix, projected_at_ms, topic, number of spans, then 3 values per span (partition,
# first, next), then 9 per event (partition, offset, winner, players, game_id, route,
# occurred_at_ms, event_id, json). Aggregates are summed in Lua first so each key is written
# once; the lists keep the 10 newest games by occurrence time, whatever order batches arrive
# in, so a replay rebuilds them identically.
APPLY_BATCH = """
local prefix, topic, nspans = ARGV[1], ARGV[3], tonumber(ARGV[4])
local offsets = prefix .. ':offsets'
local applied, nexts = {}, {}
for i = 5, 4 + nspans * 3, 3 do
  local p, first, nxt = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local stored = tonumber(redis.call('HGET', offsets, topic .. ':' .. p) or '0')
  if stored < first then return {'behind', p, stored, first} end
  applied[p], nexts[p] = stored, nxt
end
local wins, sizes, games, routes, last, recent = {}, {}, {}, {}, {}, {}
local new = 0
for i = 5 + nspans * 3, #ARGV, 9 do
  local p, offset = ARGV[i], tonumber(ARGV[i + 1])
  if offset >= applied[p] then
    new = new + 1
    local winner, players = ARGV[i + 2], ARGV[i + 3]
    wins[winner] = (wins[winner] or 0) + 1
    sizes[players] = (sizes[players] or 0) + 1
    games[ARGV[i + 4]] = (games[ARGV[i + 4]] or 0) + 1
    routes[ARGV[i + 5]] = (routes[ARGV[i + 5]] or 0) + 1
    local item = {tonumber(ARGV[i + 6]), ARGV[i + 7], ARGV[i + 8]}
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
for p, nxt in pairs(nexts) do
  if nxt > applied[p] then redis.call('HSET', offsets, topic .. ':' .. p, nxt) end
end
return {'applied', new}
"""


def game_json(event: Event) -> str:
    """The JSON object of one game as the `last` and `recent` lists hold it."""
    return json.dumps(event.game_fields(), separators=(",", ":"))


def script_args(prefix: str, topic: str, batch: Batch, projected_at_ms: int) -> list[Any]:
    """ARGV for APPLY_BATCH."""
    args: list[Any] = [prefix, projected_at_ms, topic, len(batch.spans)]
    for partition, span in sorted(batch.spans.items()):
        args += (partition, span.first, span.next)
    for e in batch.canonical:
        args += (e.partition, e.offset, e.winner, e.players, e.game_id, e.route)
        args += (e.occurred_at_ms, e.event_id, game_json(e))
    return args


class RedisProjection:
    """Leaderboard, last games, size histogram, counters and tracking under one prefix."""

    name = "redis"

    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self._client = client
        self._prefix = settings.redis_prefix
        self._topic = settings.events_topic
        self._timeout_s = settings.store_timeout_s
        self._script = client.register_script(APPLY_BATCH)

    @classmethod
    async def open(cls, settings: Settings) -> RedisProjection:
        client = aioredis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.store_timeout_s,
            socket_connect_timeout=settings.store_timeout_s,
        )
        projection = cls(client, settings)
        async with closed_on_failure(client.aclose):
            await projection._call("Redis ping", client.ping())
        return projection

    async def _call(self, what: str, call: Any) -> Any:
        return await bounded(call, what, self._timeout_s, from_redis)

    async def apply(self, batch: Batch) -> None:
        args = script_args(self._prefix, self._topic, batch, int(time.time() * 1000))
        what = f"Redis batch of {len(batch.canonical)}"
        answer = await self._call(what, self._script(keys=[], args=args))
        if answer[0] == b"behind":
            _, partition, stored, first = answer
            raise StoreBehind(self.name, int(partition), int(stored), int(first))

    async def positions(self) -> dict[int, int]:
        fields = await self._call("Redis tracking", self._client.hgetall(f"{self._prefix}:offsets"))
        topic = self._topic.encode()
        result = {}
        for name, value in fields.items():
            field_topic, _, partition = name.rpartition(b":")
            if field_topic == topic:
                result[int(partition)] = int(value)
        return result

    async def reset(self) -> None:
        """Delete every key under the prefix (SCAN, never KEYS, so Redis stays responsive).

        Gateway reservations (`{prefix}:req:*`) are not projections and are kept.
        """
        reserved = f"{self._prefix}:req:".encode()
        try:
            batch: list[Any] = []
            async for key in self._client.scan_iter(match=f"{self._prefix}:*", count=1000):
                if key.startswith(reserved):
                    continue
                batch.append(key)
                if len(batch) >= 1000:
                    await self._client.unlink(*batch)
                    batch = []
            if batch:
                await self._client.unlink(*batch)
        except Exception as exc:
            raise SinkError(f"cannot reset Redis prefix {self._prefix!r}: {exc}") from exc

    async def close(self) -> None:
        await self._client.aclose()
