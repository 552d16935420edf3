"""The gateway's draw of one winner per game, the same for every retry of a request.

The games, their names and their rules (edge cases included) are `squidstream.games`, which
the contract's `winner_problem` also checks decoded events against. `pick_winner` and
`game_name` raise `InvalidRequest` for an unknown game id or N outside 1..PLAYERS_MAX. The
gateway draws with `rng_for(request_id)`, draws derived from the SHA-256 of the request id,
so a retried request picks the same winner; any `Draw` (such as `random.Random`) serves too.
"""

from __future__ import annotations

import hashlib

from gateways.errors import InvalidRequest
from squidstream.contract import GAMES, game_problem, players_problem
from squidstream.games import Draw, draw_winner


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
    return draw_winner(game_id, players, rng)
