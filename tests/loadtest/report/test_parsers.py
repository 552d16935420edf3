"""The output of the tools the report runs (Java clients, bench streams, replay) is parsed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from loadtest.report.drain import DrainError, parse_drain
from loadtest.report.java_clients import (
    JavaClientError,
    parse_confirm_publisher,
    parse_kafka_perf,
)
from loadtest.report.machine import NotLoopback, require_loopback
from loadtest.report.reads import parse_replay
from squidstream.settings import Settings

KAFKA_OUTPUT = """\
249981 records sent, 49986.2 records/sec (5.72 MB/sec), 120.1 ms avg latency, 400.0 ms max latency.
500000 records sent, 51921.079958 records/sec (5.94 MB/sec), 128.58 ms avg latency, 632.00 ms \
max latency, 136 ms 50th, 187 ms 95th, 209 ms 99th, 216 ms 99.9th.
"""

STREAMS_OUTPUT = """\
load average at start: 0.45 0.17 0.25
preloading 5,000 events into bench-1ebe1a62 ...
bare aiokafka consumer: 43,612 events/s (produce 28,403/s)
faust agent that only counts: 21,344 events/s
our worker (faust app, 3 projections): 10,672 events/s
per event: faust alone 46.9 us, our worker 93.7 us, so the projection adds 46.8 us (0.50 of \
faust's rate)
  sql alone, 1,000-event batches: 45,878 events/s
  mongo alone, 1,000-event batches: 21,670 events/s
naive per-message consumer (200 events): 473 events/s
ours / bare  = 0.245  (goal >= 0.5: MISSED)
"""


def test_the_kafka_tool_s_final_summary_line_is_the_ceiling() -> None:
    ceiling = parse_kafka_perf(KAFKA_OUTPUT)

    assert (ceiling.records, ceiling.records_per_s) == (500_000, 51921.079958)
    assert (ceiling.p50_ms, ceiling.p95_ms, ceiling.p99_ms) == (136, 187, 209)


def test_the_rabbitmq_publisher_s_key_value_line_is_the_ceiling() -> None:
    line = "messages=20000 seconds=3.999 records_per_s=5000.9 p50_ms=55.4 p95_ms=235.2 p99_ms=472.0"

    ceiling = parse_confirm_publisher("SLF4J: noise\n" + line + "\n")

    assert (ceiling.broker, ceiling.records, ceiling.records_per_s) == ("rabbitmq", 20_000, 5000.9)
    assert ceiling.p99_ms == 472.0


@pytest.mark.parametrize("parse", [parse_kafka_perf, parse_confirm_publisher])
def test_a_tool_that_printed_no_result_is_an_error(parse: Callable[[str], object]) -> None:
    with pytest.raises(JavaClientError):
        parse("Exception in thread main")


def test_bench_streams_rates_split_into_consumers_and_stores_alone() -> None:
    drain = parse_drain(STREAMS_OUTPUT, 5_000)

    assert drain.ours == 10_672
    assert drain.rates["bare aiokafka consumer"] == 43_612
    assert drain.rates["faust agent that only counts"] == 21_344
    assert len(drain.rates) == 4  # the per-event cost line is not a rate
    assert drain.stores == {"sql": 45_878, "mongo": 21_670}
    assert drain.slowest_store == ("mongo", 21_670)


def test_bench_streams_output_without_rates_is_an_error() -> None:
    with pytest.raises(DrainError):
        parse_drain("Traceback (most recent call last):", 10)


def test_the_replay_rate_is_events_over_the_printed_seconds() -> None:
    point = parse_replay(
        "replayed 4000 records (4000 events, 0 dead letters) in 2.0s = 2,000/s", 4000
    )

    assert (point.seconds, point.events_per_s) == (2.0, 2000.0)


def test_a_setting_pointing_off_this_machine_is_refused_by_name() -> None:
    require_loopback(Settings(redis_host="localhost", sql_host="::1"))
    with pytest.raises(NotLoopback, match=r"redis_host=10\.0\.0\.5"):
        require_loopback(Settings(redis_host="10.0.0.5"))
