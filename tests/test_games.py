"""The one table of games: names pinned, and the draw and the check agree on every winner."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from squidstream.contract import PLAYERS_MAX, winner_problem
from squidstream.games import GAME_IDS, GAMES, GAMES_BY_ID, allowed_winners, draw_winner

game_ids = st.sampled_from(GAME_IDS)
players = st.integers(min_value=1, max_value=PLAYERS_MAX)


@dataclass
class FixedDraw:
    """Always draws `k` (clamped into a..b), and counts how often it was asked."""

    k: int
    calls: int = 0

    def randint(self, a: int, b: int) -> int:
        self.calls += 1
        return min(max(self.k, a), b)


def test_the_game_names_are_those_every_stored_event_carries() -> None:
    # The contract refuses an event whose game_name differs: a rename would dead-letter the log.
    assert GAMES == {
        1: "Random",
        2: "Half Game",
        3: "The Last One",
        4: "Even Game",
        5: "Odd Game",
    }


@given(game_id=game_ids, players=players, seed=st.integers())
def test_a_drawn_winner_is_always_an_allowed_one(game_id: int, players: int, seed: int) -> None:
    winner = draw_winner(game_id, players, random.Random(seed))
    assert winner in allowed_winners(game_id, players)
    assert winner_problem(game_id, players, winner) is None


@given(game_id=game_ids, players=st.integers(min_value=1, max_value=60))
def test_every_allowed_winner_can_be_drawn_and_no_other_passes_the_check(
    game_id: int, players: int
) -> None:
    allowed = allowed_winners(game_id, players)
    drawn = {draw_winner(game_id, players, FixedDraw(k)) for k in range(1, players + 1)}
    assert drawn == set(allowed)
    passing = {w for w in range(1, players + 1) if winner_problem(game_id, players, w) is None}
    assert passing == set(allowed)


@given(game_id=game_ids, players=players)
def test_only_a_real_choice_draws(game_id: int, players: int) -> None:
    draw = FixedDraw(1)
    draw_winner(game_id, players, draw)
    has_choice = GAMES_BY_ID[game_id].drawn and len(GAMES_BY_ID[game_id].winners(players)) > 0
    assert draw.calls == (1 if has_choice else 0)


def test_even_game_with_one_player_is_won_by_the_only_player_without_a_draw() -> None:
    draw = FixedDraw(1)
    assert (draw_winner(4, 1, draw), draw.calls) == (1, 0)
