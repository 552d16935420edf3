"""`bench ingest` and `bench reports` judge their numbers by the shared goals (--check)."""

from __future__ import annotations

import pytest

from loadtest.bench import Measured, routes_goal
from squidstream.bench_goals import READS, ROUTE_RATIO
from views.bench import ReportTiming, reads_goals


def _stream(route: str, rate: float) -> Measured:
    return Measured(route, "stream/1000", int(rate), 0, 1.0, [1.0])


def test_the_routes_goal_compares_the_best_streamed_rates() -> None:
    rabbit = 1_000.0
    assert routes_goal([_stream("kafka", rabbit * ROUTE_RATIO), _stream("rabbitmq", rabbit)])
    assert not routes_goal([_stream("kafka", rabbit * 2), _stream("rabbitmq", rabbit)])


def test_unary_calls_and_a_missing_route_do_not_count(capsys: pytest.CaptureFixture[str]) -> None:
    unary = Measured("rabbitmq", "unary", 1, 0, 1.0, [1.0])
    assert routes_goal([_stream("kafka", 9_000.0), unary]) is None
    assert "not measured" in capsys.readouterr().out


def _timing(store: str, p99_ms: float) -> ReportTiming:
    return ReportTiming(store, "last 10 games", 100, 1.0, [p99_ms / 2] * 98 + [p99_ms] * 2)


def test_the_read_goals_need_both_stores_fast_at_the_goal_size() -> None:
    fast = [_timing("redis", READS.redis_p99_ms / 2), _timing("sql", READS.sql_p99_ms / 2)]
    assert reads_goals(READS.size, fast)
    slow_sql = [_timing("redis", READS.redis_p99_ms / 2), _timing("sql", READS.sql_p99_ms * 2)]
    assert not reads_goals(READS.size, slow_sql)


def test_fast_reads_on_small_stores_do_not_meet_the_goal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fast = [_timing("redis", READS.redis_p99_ms / 2), _timing("sql", READS.sql_p99_ms / 2)]
    assert not reads_goals(1_000, fast)
    assert "stores hold 1,000" in capsys.readouterr().out
