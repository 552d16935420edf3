"""Conclusions are sentences made from the numbers: change a number, the sentence changes."""

from __future__ import annotations

from dataclasses import replace

from loadtest.report.conclusions import audit, conclusions, drain, freshness, messaging, stores
from loadtest.report.results import Results
from tests.loadtest.report.factories import fresh, good_run, read


def test_messaging_names_the_faster_route_by_how_much_and_the_brokers_own_ceilings() -> None:
    text = messaging(good_run())

    assert "Kafka route accepted 40,000 events/s on PlayStream against 10,000" in text
    assert "4.0 times as many" in text
    assert "3,000 against 1,800 on unary calls (1.7 times)" in text
    assert "reach 50% and 50% of their broker's own ceiling" in text


def test_freshness_gives_each_store_s_p99_and_the_highest_sustained_rate() -> None:
    results = good_run()
    results.freshness.append(
        fresh("rabbitmq", 4000, {"redis": 900.0, "sql": 950.0, "mongo": 8000.0}, sustained=False)
    )

    text = freshness(results)

    assert (
        "kafka route at 1,000 events/s offered, p99 redis 90 ms, sql 120 ms, mongo 200 ms" in text
    )
    assert "rabbitmq route at 4,000 events/s offered, p99 redis 900 ms" in text
    assert text.count("highest rate sustained without growing lag: 1,000/s") == 2


def test_stores_say_which_store_is_faster_per_report_and_how_latency_grows() -> None:
    results = good_run()
    results.reads = [
        read(10_000, "redis", "top 10 players", 0.3, 0.5),
        read(10_000, "sql", "top 10 players", 0.2, 1.0),
        read(1_000_000, "redis", "top 10 players", 0.4, 1.0),
        read(1_000_000, "sql", "top 10 players", 0.9, 8.0),
    ]

    text = stores(results)

    assert "SQL at 10,000 (0.30 vs 0.20 ms p50)" in text
    assert "Redis at 1,000,000 (0.40 vs 0.90 ms p50)" in text
    assert "with 100x the data: redis p99 x2.0, sql p99 x8.0" in text


def test_the_audit_paragraph_counts_failed_reads_at_the_largest_size() -> None:
    results = good_run()
    slow = replace(read(1_000_000, "mongo", "audit log, first page", 900, 3000), failed=4)
    results.reads += [read(10_000, "mongo", "top 3 games", 1, 2), slow]

    text = audit(results)

    assert text.startswith("Audit log (MongoDB wire) at 1,000,000 events:")
    assert "audit log, first page 3,000.0 ms p99 (4 of 100 failed)" in text
    assert "top 3 games" not in text


def test_drain_compares_our_worker_with_bare_naive_and_the_slowest_store() -> None:
    text = drain(good_run())

    assert "our worker projected 25,000 events/s" in text
    assert "0.06 of a bare aiokafka consumer (400,000/s)" in text
    assert "slowest store alone (mongo) took 30,000/s, so the worker reaches 0.83 of it" in text


def test_drain_splits_faust_s_own_cost_per_event_from_the_projection_s() -> None:
    run = good_run()
    assert run.drain is not None
    rates = {**run.drain.rates, "faust agent that only counts": 50_000}
    text = drain(replace(run, drain=replace(run.drain, rates=rates)))

    assert "0.50 of a Faust agent that only counts (50,000/s" in text
    assert "Faust itself costs 20 µs of our 40 µs per event" in text


def test_drain_without_a_counting_agent_names_none() -> None:
    assert "only counts" not in drain(good_run())


def test_every_section_left_unmeasured_says_so_instead_of_inventing_numbers() -> None:
    empty = Results(started_at="t", quick=True, machine=good_run().machine)

    assert all("not measured" in paragraph for paragraph in conclusions(empty))
