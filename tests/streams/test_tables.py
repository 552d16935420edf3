"""The worker page sums only the partitions this worker owns."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from streams.tables import Tables, snapshot


def table(data: dict[Any, int]) -> Any:
    return SimpleNamespace(data=data, table=SimpleNamespace(data=data))


def test_snapshot_sums_owned_partitions_and_skips_the_others() -> None:
    wins = table({"0:7": 2, "1:7": 3, "2:7": 100})
    rate = table(
        {("0:kafka", (60.0, 119.9)): 4, ("1:kafka", (60.0, 119.9)): 1, ("2:kafka", (0, 1)): 9}
    )
    tables = Tables(wins, table({}), table({"1:3": 5}), table({}), rate)
    body = snapshot(tables, {0, 1})
    assert body["player_wins"] == {"7": 5}
    assert body["game_counts"] == {"3": 5}
    assert body["route_rate_per_minute"] == {"kafka": {"60": 5}}
