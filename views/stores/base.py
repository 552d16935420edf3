"""Ports the routes depend on; the adapters beside this module implement them."""

from __future__ import annotations

from typing import Protocol

from views.models import LastGames, PlayerStats, TopPlayers

TOP_PLAYERS = 10
LAST_GAMES = 10
RECENT_GAMES = 10


class ProjectionCounters(Protocol):
    """How far one store's projection has got: cheap enough to poll every second."""

    store: str

    async def projected_at_ms(self) -> int | None:
        """Projection time of the newest data in the store."""
        ...

    async def events(self) -> int:
        """How many events the store has applied."""
        ...


class ResultReports(ProjectionCounters, Protocol):
    """The three result reports, answered by one store."""

    async def last_games(self) -> LastGames:
        """The last 10 games, newest first."""
        ...

    async def top_players(self) -> TopPlayers:
        """The 10 players with most wins; ties go to the lower player number."""
        ...

    async def player_stats(self, player: int) -> PlayerStats | None:
        """A player's games played, won and lost and recent games; None if never played."""
        ...
