"""The three result reports, from Redis or SQL as the path says."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from views.deps import ReportsDep
from views.models import LastGames, PlayerStats, TopPlayers
from views.routes import refusal

MAX_PLAYER = 1_000_000
UNAVAILABLE = refusal(503, "The store could not answer.")

router = APIRouter(prefix="/api/reports/{store}", tags=["reports"], responses=UNAVAILABLE)


@router.get("/last-games", summary="The last 10 games, newest first")
async def last_games(reports: ReportsDep) -> LastGames:
    return await reports.last_games()


@router.get("/top-players", summary="The 10 players with most wins")
async def top_players(reports: ReportsDep) -> TopPlayers:
    return await reports.top_players()


@router.get(
    "/players/{player}",
    summary="One player's games played, won, lost and recent games",
    responses=refusal(404, "The player never played."),
)
async def player_stats(
    reports: ReportsDep, player: Annotated[int, Path(ge=1, le=MAX_PLAYER)]
) -> PlayerStats:
    stats = await reports.player_stats(player)
    if stats is None:
        raise HTTPException(404, f"player {player} has not played any game in {reports.store}")
    return stats
