"""Result reports from the SQL tables documented in docs/stores.md (MariaDB or TiDB)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiomysql

from views.errors import StoreUnavailable
from views.models import Freshness, Game, LastGames, PlayerGame, PlayerStats, PlayerWins, TopPlayers
from views.stores.base import LAST_GAMES, RECENT_GAMES, TOP_PLAYERS

GAME_COLUMNS = (
    "event_id, request_id, game_id, game_name, players, winner, route, gateway_id, "
    "occurred_at_ms, schema_version"
)
Row = dict[str, Any]


class SqlReports:
    """Reads game_results and the aggregate tables through a shared aiomysql pool."""

    store = "sql"

    def __init__(self, pool: aiomysql.Pool) -> None:
        self._pool = pool

    async def _query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        try:
            async with self._pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cur:
                await cur.execute(sql, args)
                rows: list[Row] = list(await cur.fetchall())
                return rows
        except (aiomysql.MySQLError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(self.store, repr(exc)) from exc

    async def projected_at_ms(self) -> int | None:
        # The newest event by occurrence, through its index: MAX(projected_at_ms) would scan.
        rows = await self._query(
            "SELECT projected_at_ms FROM game_results ORDER BY occurred_at_ms DESC LIMIT 1"
        )
        return int(rows[0]["projected_at_ms"]) if rows else None

    async def events(self) -> int:
        rows = await self._query("SELECT COALESCE(SUM(games), 0) AS n FROM route_counts")
        return int(rows[0]["n"])

    async def _freshness(self) -> Freshness:
        return Freshness.at(await self.projected_at_ms())

    async def last_games(self) -> LastGames:
        rows = await self._query(
            f"SELECT {GAME_COLUMNS} FROM game_results "
            "ORDER BY occurred_at_ms DESC, event_id DESC LIMIT %s",
            (LAST_GAMES,),
        )
        games = [Game.model_validate(row) for row in rows]
        return LastGames(store=self.store, freshness=await self._freshness(), games=games)

    async def top_players(self) -> TopPlayers:
        rows = await self._query(
            "SELECT player, wins FROM player_wins WHERE wins > 0 "
            "ORDER BY wins DESC, player ASC LIMIT %s",
            (TOP_PLAYERS,),
        )
        players = [PlayerWins(player=int(r["player"]), wins=int(r["wins"])) for r in rows]
        return TopPlayers(store=self.store, freshness=await self._freshness(), players=players)

    async def player_stats(self, player: int) -> PlayerStats | None:
        freshness = await self._freshness()
        played_rows = await self._query(
            "SELECT COALESCE(SUM(games), 0) AS n FROM game_size_counts WHERE players >= %s",
            (player,),
        )
        played = int(played_rows[0]["n"])
        if played == 0:
            return None
        wins_rows = await self._query("SELECT wins FROM player_wins WHERE player = %s", (player,))
        won = int(wins_rows[0]["wins"]) if wins_rows else 0
        recent_rows = await self._query(
            f"SELECT {GAME_COLUMNS} FROM game_results WHERE players >= %s "
            "ORDER BY occurred_at_ms DESC, event_id DESC LIMIT %s",
            (player, RECENT_GAMES),
        )
        recent = [PlayerGame(**row, won=int(row["winner"]) == player) for row in recent_rows]
        return PlayerStats(
            store=self.store,
            freshness=freshness,
            player=player,
            played=played,
            won=won,
            lost=played - won,
            recent=recent,
        )
