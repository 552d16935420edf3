"""Result reports from the Redis keys documented in docs/stores.md."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError

from views.errors import BadStoreData, StoreUnavailable
from views.models import (
    Freshness,
    Game,
    LastGames,
    PlayerGame,
    PlayerStats,
    PlayerWins,
    TopPlayers,
)
from views.stores.base import LAST_GAMES, RECENT_GAMES, TOP_PLAYERS

T = TypeVar("T")
# A player's report in one script and one round trip: freshness, wins, games played (the
# size histogram summed over sizes >= player) and the merge of those sizes' recent lists
# (each newest first), reading each list's head and then only the entries it takes: ~110
# reads inside Redis instead of shipping ~1,000 entries to Python, which made the report 20
# times slower than SQL's indexed query; the three round trips it then took cost another ms.
PLAYER_STATS_LUA = """
local prefix, player, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local projected_at = redis.call('HGET', prefix .. ':meta', 'projected_at_ms')
local wins = redis.call('ZSCORE', prefix .. ':wins', ARGV[2])
local sizes = redis.call('HGETALL', prefix .. ':sizes')
local played, keys = 0, {}
for i = 1, #sizes, 2 do
  if tonumber(sizes[i]) >= player then
    played = played + tonumber(sizes[i + 1])
    keys[#keys + 1] = prefix .. ':recent:' .. sizes[i]
  end
end
local raws, heads, pos = {}, {}, {}
for i, key in ipairs(keys) do
  pos[i] = 0
  raws[i] = redis.call('LINDEX', key, 0)
  if raws[i] then heads[i] = cjson.decode(raws[i]) end
end
local out = {}
while #out < limit do
  local best = nil
  for i, head in pairs(heads) do
    local top = best and heads[best]
    if top == nil or head.occurred_at_ms > top.occurred_at_ms
       or (head.occurred_at_ms == top.occurred_at_ms and head.event_id > top.event_id) then
      best = i
    end
  end
  if best == nil then break end
  out[#out + 1] = raws[best]
  pos[best] = pos[best] + 1
  raws[best] = redis.call('LINDEX', keys[best], pos[best])
  if raws[best] then heads[best] = cjson.decode(raws[best]) else heads[best] = nil end
end
return {projected_at or false, wins or false, played, out}
"""
# Players tied at the 10th place are all fetched so ties break by player number, like SQL;
# the cap bounds one request when very many players share the lowest score.
TIE_FETCH_CAP = 100_000


def _parse_games(raw: Iterable[bytes | str]) -> list[Game]:
    try:
        return [Game.model_validate_json(item) for item in raw]
    except ValidationError as exc:
        raise BadStoreData(f"redis game entry does not match docs/stores.md: {exc}") from exc


def _newest_games(raw: Iterable[bytes | str], limit: int) -> list[Game]:
    """The newest `limit` entries, newest first; only those are validated into models.

    A player's recent games merge up to one list per game size (hundreds of entries), and
    validating every entry cost more than the whole Redis round trip.
    """
    try:
        entries = [json.loads(item) for item in raw]
        entries.sort(key=lambda e: (e["occurred_at_ms"], e["event_id"]), reverse=True)
        return [Game.model_validate(entry) for entry in entries[:limit]]
    except (ValueError, KeyError, TypeError) as exc:  # ValidationError is a ValueError
        raise BadStoreData(f"redis game entry does not match docs/stores.md: {exc}") from exc


def _newest_first(game: Game) -> tuple[int, str]:
    return (game.occurred_at_ms, game.event_id)


def _int_or_none(value: bytes | str | float | None) -> int | None:
    return None if value is None else int(float(value))


class RedisReports:
    """Reads the leaderboard, histograms and recent-game lists under one key prefix."""

    store = "redis"

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._player_stats = client.register_script(PLAYER_STATS_LUA)

    def key(self, name: str) -> str:
        return f"{self._prefix}:{name}"

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except RedisError as exc:
            raise StoreUnavailable(self.store, repr(exc)) from exc
        except (ValueError, json.JSONDecodeError) as exc:
            raise BadStoreData(f"redis holds a malformed value: {exc}") from exc

    async def projected_at_ms(self) -> int | None:
        value = await self._call(self._redis.hget(self.key("meta"), "projected_at_ms"))
        return _int_or_none(value)

    async def events(self) -> int:
        value = await self._call(self._redis.hget(self.key("meta"), "events"))
        return _int_or_none(value) or 0

    async def routes(self) -> dict[str, int]:
        """Games per route, as the projection counted them."""
        raw = await self._call(self._redis.hgetall(self.key("routes")))
        return {str(route): int(n) for route, n in raw.items()}

    async def _freshness(self) -> Freshness:
        return Freshness.at(await self.projected_at_ms())

    def _with_freshness(self) -> Any:
        """A pipeline that reads the projection time first: each report is one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hget(self.key("meta"), "projected_at_ms")
        return pipe

    async def last_games(self) -> LastGames:
        pipe = self._with_freshness()
        pipe.lrange(self.key("last"), 0, LAST_GAMES - 1)
        projected_at, raw = await self._call(pipe.execute())
        # Newest first by occurrence, the same order the SQL report uses.
        games = sorted(_parse_games(raw), key=_newest_first, reverse=True)
        freshness = Freshness.at(_int_or_none(projected_at))
        return LastGames(store=self.store, freshness=freshness, games=games)

    async def top_players(self) -> TopPlayers:
        wins = self.key("wins")
        pipe = self._with_freshness()
        # One more than the report: a tie across its last place shows in the 11th.
        pipe.zrevrange(wins, 0, TOP_PLAYERS, withscores=True)
        projected_at, head = await self._call(pipe.execute())
        if len(head) > TOP_PLAYERS and head[TOP_PLAYERS][1] == head[TOP_PLAYERS - 1][1]:
            lowest = head[TOP_PLAYERS - 1][1]
            head = await self._call(
                self._redis.zrevrangebyscore(
                    wins, "+inf", lowest, start=0, num=TIE_FETCH_CAP, withscores=True
                )
            )
        ranked = sorted(((int(m), int(s)) for m, s in head), key=lambda ps: (-ps[1], ps[0]))
        players = [PlayerWins(player=p, wins=w) for p, w in ranked[:TOP_PLAYERS]]
        freshness = Freshness.at(_int_or_none(projected_at))
        return TopPlayers(store=self.store, freshness=freshness, players=players)

    async def player_stats(self, player: int) -> PlayerStats | None:
        args: list[str | int] = [self._prefix, player, RECENT_GAMES]
        answer: list[Any] = await self._call(self._player_stats(keys=[], args=args))
        projected_at, wins, played, raw = answer
        if int(played) == 0:
            return None
        won = _int_or_none(wins or None) or 0
        games = _newest_games(raw, RECENT_GAMES)
        return PlayerStats(
            store=self.store,
            freshness=Freshness.at(_int_or_none(projected_at or None)),
            player=player,
            played=int(played),
            won=won,
            lost=int(played) - won,
            recent=[PlayerGame(**g.model_dump(), won=g.winner == player) for g in games],
        )
