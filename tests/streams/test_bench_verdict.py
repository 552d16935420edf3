"""`squidstream bench streams`: its verdict follows the shared goals; --check exits 1 on a miss."""

from __future__ import annotations

import argparse

import pytest

import streams.bench.drain as drain
from squidshell.cli import build_parser
from squidstream.bench_goals import DRAIN
from streams.cli import run_bench

FAST = DRAIN.floor * 2  # a drain that meets the floor
BARE, NAIVE = FAST, FAST / 100


def test_a_drain_that_meets_every_goal_is_met() -> None:
    assert drain.report(BARE, FAST, NAIVE, {"mongo": FAST}) is True


def test_a_drain_below_the_floor_is_missed() -> None:
    slow = DRAIN.floor - 1
    assert drain.report(slow, slow, slow / 100, {"mongo": slow}) is False


def test_a_drain_far_below_its_slowest_store_is_missed(capsys: pytest.CaptureFixture[str]) -> None:
    store = FAST / DRAIN.of_slowest * 2
    assert drain.report(BARE, FAST, NAIVE, {"sql": store * 3, "mongo": store}) is False
    assert "slowest store: mongo" in capsys.readouterr().out


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["bench", "streams", *argv])


def test_workers_and_check_are_parsed_with_defaults() -> None:
    defaults = _args()
    assert (defaults.workers, defaults.check) == (2, False)
    chosen = _args("--workers", "1", "--check")
    assert (chosen.workers, chosen.check) == (1, True)


def test_workers_outside_one_to_eight_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _args("--workers", "0")
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("met", "check", "code"), [(False, True, 1), (False, False, 0), (True, True, 0)]
)
def test_check_turns_a_missed_goal_into_exit_1(
    monkeypatch: pytest.MonkeyPatch, met: bool, check: bool, code: int
) -> None:
    seen: list[int] = []

    async def fake_bench(settings: object, count: int, naive: int, workers: int) -> bool:
        seen.append(workers)
        return met

    monkeypatch.setattr(drain, "bench", fake_bench)
    argv = ["--events", "10", "--workers", "3"] + (["--check"] if check else [])
    assert run_bench(_args(*argv)) == code
    assert seen == [3]
