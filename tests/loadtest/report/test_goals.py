"""Each goal of issue 12 is met or missed by the numbers, and says why."""

from __future__ import annotations

from dataclasses import replace

from loadtest.report.goals import check_goals, missed
from loadtest.report.results import Results
from tests.loadtest.report.factories import fresh, good_run, ingest_point, read, with_drain


def _missed(results: Results) -> list[str]:
    return [goal.name for goal in missed(check_goals(results))]


def test_a_run_that_meets_every_goal_misses_none() -> None:
    assert _missed(good_run()) == []


def test_freshness_over_250_ms_at_1000_per_s_in_one_store_is_missed_and_named() -> None:
    results = good_run()
    results.freshness[1] = fresh("kafka", 1000, {"redis": 90.0, "sql": 120.0, "mongo": 3200.0})

    goal = next(g for g in check_goals(results) if g.name == "freshness")

    assert not goal.met
    assert "3,200 ms (kafka route, mongo)" in goal.measured


def test_freshness_not_measured_at_1000_per_s_is_a_miss() -> None:
    results = good_run()
    results.freshness = [p for p in results.freshness if p.offered_per_s != 1000]

    assert _missed(results) == ["freshness"]


def test_a_kafka_route_under_three_times_rabbitmq_misses_the_route_goal() -> None:
    results = good_run()
    results.ingest.append(ingest_point("rabbitmq", "stream/1000", 15_000))

    assert _missed(results) == ["routes"]


def test_reads_measured_below_a_million_events_cannot_meet_the_read_goals() -> None:
    results = good_run()
    results.reads = [p for p in results.reads if p.events < 1_000_000]

    assert _missed(results) == ["redis reads", "sql reads", "mongo reads"]


def test_one_slow_redis_report_misses_the_redis_goal_only() -> None:
    results = good_run()
    results.reads.append(read(1_000_000, "redis", "player stats", 0.5, 2.0))

    assert _missed(results) == ["redis reads"]


def test_one_audit_read_over_100_ms_misses_the_mongo_goal_only() -> None:
    results = good_run()
    results.reads.append(read(1_000_000, "mongo", "audit log, deep page", 30.0, 140.0))

    goal = next(g for g in check_goals(results) if g.name == "mongo reads")

    assert _missed(results) == ["mongo reads"]
    assert "(audit log, deep page)" in goal.measured


def test_a_drain_under_20000_or_under_80_percent_of_the_slowest_store_is_missed() -> None:
    assert _missed(with_drain(good_run(), 19_999)) == ["drain"]
    assert _missed(with_drain(good_run(), 23_000)) == ["drain"]  # 0.77 of mongo's 30,000


def test_a_replay_slower_than_the_drain_is_missed() -> None:
    results = replace(good_run(), replay=[])

    assert _missed(results) == ["replay"]
    assert _missed(with_drain(good_run(), 34_000)) == ["replay"]
