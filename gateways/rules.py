"""The five games as pure functions of (game id, players, randomness) that pick one winner.

Players are numbered 1..N (N >= 1). Each game's answer, edge cases included:

1 "Random": uniform among 1..N; N = 1 gives 1.
2 "Half Game": N // 2 (rounded down), at least 1; so N = 1 gives 1, N = 2 and N = 3 give 1,
  N = 5 gives 2.
3 "The Last One": N.
4 "Even Game": uniform among the even numbers in 1..N. N = 1 has no even player; the answer
  is then 1, the only player (a game always has a winner).
5 "Odd Game": uniform among the odd numbers in 1..N (1 is always one of them).

An unknown game id or N outside 1..PLAYERS_MAX raises `InvalidRequest`; names and limits come
from `squidstream.contract`, whose `winner_problem` checks these rules on decoded events. The
randomness is any `Draw` (such as `random.Random`); the gateway uses `rng_for(request_id)`,
draws derived from the SHA-256 of the request id, so a retried request picks the same winner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Final, Protocol

from gateways.errors import InvalidRequest
from squidstream.contract import GAMES, game_problem, players_problem


class Draw(Protocol):
    """The randomness a game needs: a uniform integer in a..b inclusive."""

    def randint(self, a: int, b: int) -> int: ...


class HashDraw:
    """Draws from SHA-256(seed), 64 bits per draw, rehashing as needed.

    Seeding `random.Random` with the digest cost a fifth of a gateway's time per event; one
    hash serves here. The modulo bias is below 2**-40 for any player count we allow.
    """

    __slots__ = ("_digest", "_offset")

    def __init__(self, seed: bytes) -> None:
        self._digest = hashlib.sha256(seed).digest()
        self._offset = 0

    def randint(self, a: int, b: int) -> int:
        if self._offset + 8 > len(self._digest):
            self._digest, self._offset = hashlib.sha256(self._digest).digest(), 0
        chunk = self._digest[self._offset : self._offset + 8]
        self._offset += 8
        return a + int.from_bytes(chunk, "big") % (b - a + 1)


def rng_for(request_id: str) -> HashDraw:
    """The draws of one request: same request id, same draws."""
    return HashDraw(request_id.encode("utf-8"))


def _random(players: int, rng: Draw) -> int:
    return rng.randint(1, players)


def _half(players: int, rng: Draw) -> int:
    return max(1, players // 2)


def _last(players: int, rng: Draw) -> int:
    return players


def _even(players: int, rng: Draw) -> int:
    evens = players // 2
    if evens == 0:
        return 1  # N = 1: no even player exists, the only player wins.
    return 2 * rng.randint(1, evens)


def _odd(players: int, rng: Draw) -> int:
    odds = (players + 1) // 2
    return 2 * rng.randint(1, odds) - 1


_RULES: Final[Mapping[int, Callable[[int, Draw], int]]] = {
    1: _random,
    2: _half,
    3: _last,
    4: _even,
    5: _odd,
}


def game_name(game_id: int) -> str:
    """The display name of a game; InvalidRequest for an unknown id."""
    problem = game_problem(game_id)
    if problem is not None:
        raise InvalidRequest(problem.field, problem.reason)
    return GAMES[game_id]


def pick_winner(game_id: int, players: int, rng: Draw) -> int:
    """The winning player number (1..players) of one game."""
    problem = game_problem(game_id) or players_problem(players)
    if problem is not None:
        raise InvalidRequest(problem.field, problem.reason)
    return _RULES[game_id](players, rng)
