"""Traffic files: JSON lists of {"game_id", "players"}, with the original project's spread."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from squidstream.games import GAME_IDS

DEFAULT_TRAFFIC: Final = Path(__file__).resolve().parent / "traffic.json"
# The original traffic files used 4..100 players.
MIN_PLAYERS: Final = 4
MAX_PLAYERS: Final = 100


class TrafficError(ValueError):
    """A traffic file that cannot be used, with the entry at fault."""


@dataclass(frozen=True, slots=True)
class GameSpec:
    """One game request of a traffic file."""

    game_id: int
    players: int


def generate(count: int, seed: int = 2021) -> list[GameSpec]:
    """`count` games, game ids uniform in 1..5 and players uniform in 4..100, reproducibly."""
    if count < 1:
        raise TrafficError(f"count must be at least 1, got {count}")
    rng = random.Random(seed)
    return [
        GameSpec(rng.choice(GAME_IDS), rng.randint(MIN_PLAYERS, MAX_PLAYERS)) for _ in range(count)
    ]


def dump(games: list[GameSpec], path: Path) -> None:
    """Write a traffic file, one game per line so diffs stay readable."""
    lines = [json.dumps({"game_id": game.game_id, "players": game.players}) for game in games]
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")


def _parse_entry(index: int, entry: object) -> GameSpec:
    if not isinstance(entry, dict) or set(entry) != {"game_id", "players"}:
        raise TrafficError(f"entry {index} must be an object with game_id and players: {entry!r}")
    game_id, players = entry["game_id"], entry["players"]
    if not isinstance(game_id, int) or not isinstance(players, int) or isinstance(game_id, bool):
        raise TrafficError(f"entry {index}: game_id and players must be integers: {entry!r}")
    return GameSpec(game_id, players)


def load(path: Path = DEFAULT_TRAFFIC) -> list[GameSpec]:
    """Read a traffic file; TrafficError names the first bad entry."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TrafficError(f"cannot read traffic file {path}: {exc}") from exc
    if not isinstance(entries, list) or not entries:
        raise TrafficError(f"traffic file {path} must hold a non-empty JSON list")
    return [_parse_entry(index, entry) for index, entry in enumerate(entries)]
