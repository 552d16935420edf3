"""The five games, each with its name and the winners its rule allows: the one table of games.

Players are numbered 1..N (N >= 1). Each game's answer, edge cases included:

1 "Random": uniform among 1..N; N = 1 gives 1.
2 "Half Game": N // 2 (rounded down), at least 1; so N = 1, 2 and 3 give 1, N = 5 gives 2.
3 "The Last One": N.
4 "Even Game": uniform among the even numbers in 1..N. N = 1 has no even player; the answer
  is then 1, the only player (a game always has a winner).
5 "Odd Game": uniform among the odd numbers in 1..N (1 is always one of them).

The gateway draws a winner with `draw_winner` (gateways/rules.py), the contract checks that a
decoded winner is one of `allowed_winners`, and the synthetic test data draws with
`draw_winner` too, so the three never differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol


class Draw(Protocol):
    """The randomness a game needs: a uniform integer in a..b inclusive."""

    def randint(self, a: int, b: int) -> int: ...


@dataclass(frozen=True, slots=True)
class Game:
    """One game: its display name, the players its rule lets win out of N, and whether the
    winner is drawn among them (False: the rule names one player)."""

    name: str
    winners: Callable[[int], range]
    drawn: bool = True


def _half(players: int) -> range:
    half = max(1, players // 2)
    return range(half, half + 1)


GAMES_BY_ID: Final[Mapping[int, Game]] = {
    1: Game("Random", lambda players: range(1, players + 1)),
    2: Game("Half Game", _half, drawn=False),
    3: Game("The Last One", lambda players: range(players, players + 1), drawn=False),
    4: Game("Even Game", lambda players: range(2, players + 1, 2)),
    5: Game("Odd Game", lambda players: range(1, players + 1, 2)),
}
GAMES: Final[Mapping[int, str]] = {game_id: game.name for game_id, game in GAMES_BY_ID.items()}
GAME_IDS: Final[tuple[int, ...]] = tuple(GAMES_BY_ID)
# The only player wins when the rule allows no one (Even Game with one player).
_ONLY_PLAYER: Final = range(1, 2)


def allowed_winners(game_id: int, players: int) -> range:
    """The players of 1..players that may win this game."""
    return GAMES_BY_ID[game_id].winners(players) or _ONLY_PLAYER


def draw_winner(game_id: int, players: int, rng: Draw) -> int:
    """One winner, uniform among those the rule allows (a draw of k picks the k-th).

    So Random is `randint(1, N)`, Even Game `2 * randint(1, N // 2)` and Odd Game
    `2 * randint(1, (N + 1) // 2) - 1`; a rule that names one player, or allows no one,
    draws nothing.
    """
    game = GAMES_BY_ID[game_id]
    winners = game.winners(players)
    if not winners or not game.drawn:
        return (winners or _ONLY_PLAYER)[0]
    return winners[rng.randint(1, len(winners)) - 1]
