"""The five games' rules, pinned by properties and by their documented edge cases."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.errors import InvalidRequest
from gateways.rules import HashDraw, game_name, pick_winner, rng_for
from squidstream.contract import GAMES, PLAYERS_MAX, winner_problem

players = st.integers(min_value=1, max_value=PLAYERS_MAX)
request_ids = st.text(min_size=1, max_size=128)


@given(game_id=st.sampled_from(sorted(GAMES)), players=players, request_id=request_ids)
def test_every_winner_passes_the_contracts_winner_rule(
    game_id: int, players: int, request_id: str
) -> None:
    winner = pick_winner(game_id, players, rng_for(request_id))
    assert winner_problem(game_id, players, winner) is None


@given(game_id=st.sampled_from(sorted(GAMES)), players=players, request_id=request_ids)
def test_winner_is_always_one_of_the_players(game_id: int, players: int, request_id: str) -> None:
    assert 1 <= pick_winner(game_id, players, rng_for(request_id)) <= players


@given(players=players, request_id=request_ids)
def test_half_game_picks_half_rounded_down_but_at_least_one(players: int, request_id: str) -> None:
    assert pick_winner(2, players, rng_for(request_id)) == max(1, players // 2)


@given(players=players, request_id=request_ids)
def test_last_one_picks_the_last_player(players: int, request_id: str) -> None:
    assert pick_winner(3, players, rng_for(request_id)) == players


@given(players=st.integers(min_value=2, max_value=1_000_000), request_id=request_ids)
def test_even_game_picks_an_even_player(players: int, request_id: str) -> None:
    assert pick_winner(4, players, rng_for(request_id)) % 2 == 0


@given(players=players, request_id=request_ids)
def test_odd_game_picks_an_odd_player(players: int, request_id: str) -> None:
    assert pick_winner(5, players, rng_for(request_id)) % 2 == 1


@given(game_id=st.sampled_from(sorted(GAMES)), players=players, request_id=request_ids)
def test_same_request_id_picks_the_same_winner(game_id: int, players: int, request_id: str) -> None:
    first = pick_winner(game_id, players, rng_for(request_id))
    assert pick_winner(game_id, players, rng_for(request_id)) == first


@pytest.mark.parametrize(
    ("game_id", "expected"),
    [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)],
)
def test_a_single_player_always_wins_even_the_even_game(game_id: int, expected: int) -> None:
    assert pick_winner(game_id, 1, rng_for("any")) == expected


@pytest.mark.parametrize(("players", "expected"), [(2, 1), (3, 1), (4, 2), (5, 2), (100, 50)])
def test_half_game_edge_cases_round_down(players: int, expected: int) -> None:
    assert pick_winner(2, players, rng_for("x")) == expected


def test_two_players_in_the_even_game_make_player_two_win() -> None:
    assert pick_winner(4, 2, rng_for("x")) == 2


def test_random_game_reaches_every_player_over_many_request_ids() -> None:
    winners = {pick_winner(1, 5, rng_for(str(n))) for n in range(500)}
    assert winners == {1, 2, 3, 4, 5}


def test_even_and_odd_games_reach_every_allowed_player() -> None:
    evens = {pick_winner(4, 7, rng_for(str(n))) for n in range(500)}
    odds = {pick_winner(5, 7, rng_for(str(n))) for n in range(500)}
    assert (evens, odds) == ({2, 4, 6}, {1, 3, 5, 7})


@pytest.mark.parametrize("game_id", [0, 6, -1, 99])
def test_unknown_game_is_refused_naming_game_id(game_id: int) -> None:
    with pytest.raises(InvalidRequest) as refused:
        pick_winner(game_id, 10, rng_for("x"))
    assert refused.value.field == "game_id"


@pytest.mark.parametrize("players", [0, -5, PLAYERS_MAX + 1])
def test_fewer_than_one_player_is_refused_naming_players(players: int) -> None:
    with pytest.raises(InvalidRequest) as refused:
        pick_winner(1, players, rng_for("x"))
    assert refused.value.field == "players"


def test_games_have_the_original_names() -> None:
    assert [game_name(n) for n in range(1, 6)] == [
        "Random",
        "Half Game",
        "The Last One",
        "Even Game",
        "Odd Game",
    ]


@given(seed=st.binary(max_size=32), low=st.integers(-10, 10), span=st.integers(0, 10**6))
def test_hash_draws_stay_within_their_bounds_across_rehashes(
    seed: bytes, low: int, span: int
) -> None:
    draw = HashDraw(seed)
    assert all(low <= draw.randint(low, low + span) <= low + span for _ in range(10))


@given(seed=st.integers(), game_id=st.sampled_from(sorted(GAMES)), players=players)
def test_rules_accept_any_draw_such_as_random_random(seed: int, game_id: int, players: int) -> None:
    assert 1 <= pick_winner(game_id, players, random.Random(seed)) <= players
