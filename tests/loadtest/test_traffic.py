"""Traffic files: the generator's spread and the loader's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.traffic import DEFAULT_TRAFFIC, GameSpec, TrafficError, dump, generate, load


@given(count=st.integers(1, 500), seed=st.integers(0, 2**32))
def test_generated_games_follow_the_original_spread(count: int, seed: int) -> None:
    games = generate(count, seed)
    assert len(games) == count
    assert all(1 <= g.game_id <= 5 and 4 <= g.players <= 100 for g in games)


def test_the_same_seed_generates_the_same_traffic() -> None:
    assert generate(50, seed=7) == generate(50, seed=7)
    assert generate(50, seed=7) != generate(50, seed=8)


def test_a_dumped_file_loads_back_identically(tmp_path: Path) -> None:
    games = generate(20, seed=3)
    dump(games, tmp_path / "t.json")
    assert load(tmp_path / "t.json") == games


def test_the_shipped_default_file_covers_every_game_and_the_player_range() -> None:
    games = load(DEFAULT_TRAFFIC)
    assert {g.game_id for g in games} == {1, 2, 3, 4, 5}
    assert min(g.players for g in games) == 4
    assert max(g.players for g in games) == 100


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("not json", "cannot read"),
        ("[]", "non-empty"),
        ('{"game_id": 1}', "non-empty"),
        ('[{"game_id": 1, "players": 4}, {"game_id": 1}]', "entry 1"),
        ('[{"game_id": "1", "players": 4}]', "entry 0"),
        ('[{"game_id": true, "players": 4}]', "entry 0"),
    ],
)
def test_bad_traffic_files_are_refused_naming_the_problem(
    tmp_path: Path, content: str, complaint: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(TrafficError, match=complaint):
        load(path)


def test_generating_zero_games_is_refused() -> None:
    with pytest.raises(TrafficError):
        generate(0)


def test_missing_file_is_a_traffic_error(tmp_path: Path) -> None:
    with pytest.raises(TrafficError, match="cannot read"):
        load(tmp_path / "absent.json")


def test_dumped_file_is_plain_json_of_game_objects(tmp_path: Path) -> None:
    dump([GameSpec(2, 10)], tmp_path / "one.json")
    assert json.loads((tmp_path / "one.json").read_text()) == [{"game_id": 2, "players": 10}]
